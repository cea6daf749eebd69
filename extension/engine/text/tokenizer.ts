/**
 * The Gemma tokenizer with exact UTF-16 spans for every token (SPEC 3). Wraps @huggingface/tokenizers; the
 * ids are always the library's own. Loading the 256k-vocabulary file takes over a second: load once and keep
 * the instance.
 */
import { existsSync, readFileSync } from 'node:fs';
import { checkRegularFile, jsonSyntaxProblem } from '../input-files';
import { dirname, join } from 'node:path';
import { Tokenizer } from '@huggingface/tokenizers';
import { LatentDiffError } from '../errors';
import { AlignmentError, alignTokens } from './token-alignment';

export interface TokenSpans {
  ids: number[];
  /**
   * UTF-16 [start, end) of each token in the text. Together they tile the text: contiguous from 0 to
   * text.length, concatenation = text. A BOS added by `addBos` gets [0, 0]. Byte-fallback tokens: the first
   * byte of a character gets the character's span, the following bytes of it get [end, end].
   */
  spans: [number, number][];
  /**
   * Display text per token: the text the token covers (lone surrogates shown as U+FFFD), "" for the 2nd..nth
   * byte token of a character, the token's own string ("<bos>") for an added BOS.
   */
  texts: string[];
}

export interface EncodeOptions {
  /** Prepend <bos> as the tokenizer's post-processor does (span [0, 0]). */
  addBos: boolean;
}

/** Used when no tokenizer_config.json is given or found: the settings Gemma's own config has. */
const DEFAULT_CONFIG = {
  add_bos_token: true,
  add_eos_token: false,
  bos_token: '<bos>',
  eos_token: '<eos>',
  pad_token: '<pad>',
  unk_token: '<unk>',
  clean_up_tokenization_spaces: false,
};

const BYTE_TOKEN = /^<0x([0-9A-F]{2})>$/;
const LONE_SURROGATE = /[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function readJson(file: string, what: string): unknown {
  checkRegularFile(file, what);
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (e) {
    throw new LatentDiffError(file, `${what} cannot be read: ${(e as Error).message}`, 'unreadable');
  }
  try {
    return JSON.parse(text);
  } catch (e) {
    throw new LatentDiffError(file, `${what} is not valid JSON: ${jsonSyntaxProblem(e, text)}`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The span alignment relies on the normaliser changing nothing but " " -> "▁"; refuse anything else. */
function checkGemmaLayout(json: unknown, file: string): asserts json is Record<string, unknown> {
  const fail = (problem: string): never => {
    throw new LatentDiffError(file, `not a Gemma-style tokenizer.json: ${problem}`);
  };
  if (!isRecord(json)) fail('the top level is not an object');
  const j = json as Record<string, unknown>;
  const model = j.model;
  if (!isRecord(model) || model.type !== 'BPE' || !isRecord(model.vocab)) fail('"model" is not a BPE model with a vocab');
  if (!Array.isArray(j.added_tokens)) fail('"added_tokens" is missing');
  const isSpaceReplace = (n: unknown) =>
    isRecord(n) && n.type === 'Replace' && isRecord(n.pattern) && n.pattern.String === ' ' && n.content === '\u2581';
  const norm = j.normalizer;
  const normOk =
    isSpaceReplace(norm) ||
    (isRecord(norm) && norm.type === 'Sequence' && Array.isArray(norm.normalizers) && norm.normalizers.every(isSpaceReplace));
  if (!normOk) fail('the normalizer must only replace " " with "\u2581"');
  const pre = j.pre_tokenizer;
  if (pre !== null && pre !== undefined && !(isRecord(pre) && pre.type === 'Split' && isRecord(pre.pattern) && pre.pattern.String === ' '))
    fail('unsupported pre_tokenizer');
}

export class GemmaTokenizer {
  readonly vocabSize: number;
  readonly bosId: number;
  readonly eosId: number;
  /** The chat template from tokenizer_config.json, when it has one. */
  readonly chatTemplate: string | undefined;
  private readonly byteOf: Int16Array;
  private readonly special: Uint8Array;

  private constructor(
    private readonly lib: Tokenizer,
    /** The tokenizer.json path (or name) errors refer to. */
    readonly file: string,
    config: Record<string, unknown>,
    addedTokens: { id: number; special: boolean }[],
  ) {
    this.vocabSize = lib.model?.vocab.length ?? 0;
    const id = (t: unknown, fallback: string) => lib.token_to_id(typeof t === 'string' ? t : fallback);
    const bos = id(config.bos_token, '<bos>');
    const eos = id(config.eos_token, '<eos>');
    if (bos === undefined || eos === undefined) throw new LatentDiffError(file, 'the vocabulary has no <bos> or <eos> token');
    this.bosId = bos;
    this.eosId = eos;
    this.chatTemplate = pickChatTemplate(config.chat_template);
    this.byteOf = new Int16Array(this.vocabSize).fill(-1);
    for (let b = 0; b < 256; b++) {
      const byteId = lib.token_to_id(`<0x${b.toString(16).toUpperCase().padStart(2, '0')}>`);
      if (byteId !== undefined) this.byteOf[byteId] = b;
    }
    this.special = new Uint8Array(this.vocabSize);
    for (const t of addedTokens) if (t.special && t.id < this.vocabSize) this.special[t.id] = 1;
  }

  /**
   * Loads tokenizer.json and its tokenizer_config.json (default: the one next to it, when present).
   * Throws LatentDiffError naming the file when it is missing, not JSON, or not a Gemma-style tokenizer.
   */
  static fromFiles(tokenizerJsonPath: string, tokenizerConfigPath?: string): GemmaTokenizer {
    const json = readJson(tokenizerJsonPath, 'tokenizer file');
    const sibling = join(dirname(tokenizerJsonPath), 'tokenizer_config.json');
    const configPath = tokenizerConfigPath ?? (existsSync(sibling) ? sibling : undefined);
    const config = configPath === undefined ? DEFAULT_CONFIG : readJson(configPath, 'tokenizer config');
    if (configPath !== undefined && !isRecord(config)) throw new LatentDiffError(configPath, 'tokenizer config is not a JSON object');
    return GemmaTokenizer.fromJson(json, config, tokenizerJsonPath);
  }

  /** From already parsed JSON; `file` names the source in errors. */
  static fromJson(tokenizerJson: unknown, tokenizerConfig: unknown, file: string): GemmaTokenizer {
    checkGemmaLayout(tokenizerJson, file);
    const config = isRecord(tokenizerConfig) ? { ...DEFAULT_CONFIG, ...tokenizerConfig } : DEFAULT_CONFIG;
    let lib: Tokenizer;
    try {
      lib = new Tokenizer(tokenizerJson, config);
    } catch (e) {
      throw new LatentDiffError(file, `not a usable tokenizer: ${(e as Error).message}`);
    }
    const added = (tokenizerJson.added_tokens as unknown[]).filter(isRecord).map((t) => ({ id: Number(t.id), special: t.special === true }));
    return new GemmaTokenizer(lib, file, config, added);
  }

  /** Token ids exactly as the library's encode() gives them. */
  encode(text: string, opts: EncodeOptions): number[] {
    return this.lib.encode(text, { add_special_tokens: opts.addBos }).ids;
  }

  encodeWithSpans(text: string, opts: EncodeOptions): TokenSpans {
    const enc = this.lib.encode(text, { add_special_tokens: false });
    let offsets: Int32Array;
    try {
      offsets = alignTokens(text, enc.tokens, (i) => (enc.ids[i] < this.vocabSize ? this.byteOf[enc.ids[i]] : -1));
    } catch (e) {
      if (e instanceof AlignmentError) throw new LatentDiffError(this.file, `cannot place tokens on the text: ${e.message}`, 'tokenizer-alignment');
      throw e;
    }
    const ids: number[] = [];
    const spans: [number, number][] = [];
    const texts: string[] = [];
    if (opts.addBos) {
      ids.push(this.bosId);
      spans.push([0, 0]);
      texts.push(this.idToToken(this.bosId) ?? '<bos>');
    }
    for (let i = 0; i < enc.ids.length; i++) {
      const start = offsets[2 * i];
      const end = offsets[2 * i + 1];
      ids.push(enc.ids[i]);
      spans.push([start, end]);
      texts.push(text.slice(start, end).replace(LONE_SURROGATE, '\ufffd'));
    }
    return { ids, spans, texts };
  }

  /** Decodes ids to text (special tokens kept unless skipSpecial). */
  decode(ids: readonly number[], opts: { skipSpecial?: boolean } = {}): string {
    if (ids.length === 0) return '';
    return this.lib.decode([...ids], { skip_special_tokens: opts.skipSpecial ?? false });
  }

  /** The vocabulary string of a token ("▁the", "<0xE2>", "<start_of_turn>"). */
  idToToken(id: number): string | undefined {
    return this.lib.id_to_token(id);
  }

  tokenToId(token: string): number | undefined {
    return this.lib.token_to_id(token);
  }

  /** <pad>, <eos>, <bos>, <unk>, <start_of_turn>, <end_of_turn> (the added tokens marked special). */
  isSpecial(id: number): boolean {
    return this.special[id] === 1;
  }

  /** The byte a byte-fallback token <0xNN> stands for, or -1. */
  byteValue(id: number): number {
    return id >= 0 && id < this.vocabSize ? this.byteOf[id] : -1;
  }

  /** A vocabulary entry for display without context: "▁" as a space; byte tokens stay "<0xNN>". */
  displayToken(id: number): string {
    const token = this.idToToken(id);
    if (token === undefined) return '';
    return BYTE_TOKEN.test(token) ? token : token.replaceAll('\u2581', ' ');
  }
}

function pickChatTemplate(t: unknown): string | undefined {
  if (typeof t === 'string') return t;
  if (Array.isArray(t)) {
    const named = t.filter(isRecord);
    const chosen = named.find((x) => x.name === 'default') ?? named[0];
    return typeof chosen?.template === 'string' ? chosen.template : undefined;
  }
  return undefined;
}
