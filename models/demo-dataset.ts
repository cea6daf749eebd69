/**
 * A small deterministic dataset for offline statistics on the demo bundle: plain-text lines (JSONL `text`)
 * and chats (JSONL `messages`) that exercise every planted concept.
 */
type Rng = () => number;

const SUBJECTS = ['the committee', 'a student', 'the old library', 'an engineer', 'the river', 'a small town', 'the report', 'an orchestra'];
const VERBS = ['published', 'measured', 'described', 'counted', 'visited', 'rebuilt', 'reviewed', 'painted'];
const OBJECTS = ['the results', 'a map', 'the bridge', 'an essay', 'the garden', 'a budget', 'the archive', 'an old photograph'];
const QUESTIONS = ['How do I sort a list in Python?', 'What is the capital of France?', 'Can you explain recursion?', 'Why is the sky blue?', 'How many days are in 2024?', 'What does this function return?'];
const ANSWERS = [
  'Use sorted(items), or items.sort() to sort in place.',
  'Paris is the capital of France.',
  'Recursion is when a function calls itself; each call works on a smaller input.',
  'Sunlight scatters off air molecules, and blue light scatters most.',
  'There are 366 days in 2024, because it is a leap year.',
  'It returns the sum of the two numbers, 42 in your example.',
];
const CODE = [
  'def area(r):\n    return 3.14159 * r * r',
  'function add(a, b) {\n  return a + b;\n}',
  'import os\nconst path = "/tmp/data";',
  'def main():\n    import sys\n    return 0',
];

const pick = <T>(rng: Rng, xs: T[]): T => xs[Math.floor(rng() * xs.length)];

function sentence(rng: Rng): string {
  const n = Math.floor(rng() * 1000);
  const s = `${pick(rng, SUBJECTS)} ${pick(rng, VERBS)} ${pick(rng, OBJECTS)} in ${1900 + (n % 120)}`;
  return s.charAt(0).toUpperCase() + s.slice(1) + pick(rng, ['.', '.', ';', ', and nobody noticed.', '?']);
}

export function demoDatasetLines(rng: Rng, count: number): string[] {
  const lines: string[] = [];
  for (let i = 0; i < count; i++) {
    const r = rng();
    if (r < 0.4) {
      const text = Array.from({ length: 2 + Math.floor(rng() * 4) }, () => sentence(rng)).join(' ');
      lines.push(JSON.stringify({ text }));
    } else if (r < 0.55) {
      lines.push(JSON.stringify({ text: `${sentence(rng)}\n\n${pick(rng, CODE)}\n` }));
    } else {
      const turns = 1 + Math.floor(rng() * 2);
      const messages: { role: string; content: string }[] = [];
      for (let t = 0; t < turns; t++) {
        const q = Math.floor(rng() * QUESTIONS.length);
        messages.push({ role: 'user', content: rng() < 0.5 ? QUESTIONS[q] : `${sentence(rng)} ${QUESTIONS[q]}` });
        messages.push({ role: 'assistant', content: rng() < 0.7 ? ANSWERS[q] : `${ANSWERS[q]}\n\n${pick(rng, CODE)}` });
      }
      lines.push(JSON.stringify({ messages }));
    }
  }
  return lines;
}
