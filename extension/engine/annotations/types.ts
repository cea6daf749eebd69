/** A user's interpretation of one latent, as kept in the workspace's annotation file. */
export type AnnotationStatus = 'hypothesis' | 'confirmed' | 'rejected';
export const ANNOTATION_STATUSES: readonly AnnotationStatus[] = ['hypothesis', 'confirmed', 'rejected'];

/** Zero-based, as in VS Code. */
export interface TextPosition {
  line: number;
  character: number;
}

export interface TextRange {
  start: TextPosition;
  end: TextPosition;
}

/** A place where the latent fired, captured from an editor selection. */
export interface Evidence {
  /** Workspace-relative path (or whatever the host stores; shown as is). */
  file: string;
  range: TextRange;
  activation: number;
  /** The text of the range when captured. */
  text?: string;
}

/** One latent's record as stored in the file (the latent id is its key there). */
export interface AnnotationRecord {
  label: string;
  status: AnnotationStatus;
  notes: string;
  evidence: Evidence[];
  /** ISO 8601 time of the last change. */
  updatedAt: string;
}

export interface Annotation extends AnnotationRecord {
  latent: number;
}

export interface AnnotationPatch {
  label?: string;
  notes?: string;
  status?: AnnotationStatus;
}

/** Latent id -> record, for one crosscoder. */
export type AnnotationSection = Map<number, AnnotationRecord>;

/** The whole file: crosscoder identity -> section. */
export interface AnnotationFileData {
  crosscoders: Map<string, AnnotationSection>;
}
