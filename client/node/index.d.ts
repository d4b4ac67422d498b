// Type declarations of the kg.v1 Node.js client (index.js). Replies are plain objects with
// lowerCamelCase fields, enums as names, 64-bit integers as decimal strings, every scalar
// field present and unset messages null.
import * as grpc from '@grpc/grpc-js';

export type EntityTypeName =
  | 'ENTITY_TYPE_UNSPECIFIED' | 'PRODUCT' | 'SPU' | 'BRAND' | 'CATEGORY' | 'MERCHANT'
  | 'INFLUENCER' | 'BUYER' | 'CONTENT';
export type EdgeTypeName =
  | 'EDGE_TYPE_UNSPECIFIED' | 'IN_CATEGORY' | 'SUBCATEGORY_OF' | 'HAS_BRAND' | 'INSTANCE_OF'
  | 'SOLD_BY' | 'PROMOTES' | 'FEATURES' | 'POSTED' | 'VIEWED' | 'CLICKED' | 'ADDED_TO_CART'
  | 'PURCHASED' | 'FOLLOWS';
export type DirectionName = 'OUT' | 'IN';

/**
 * In requests an enum is its name, in any case (checked when the request is built: a
 * TypeError names the field), or its number.
 */
export type EntityTypeLike = EntityTypeName | (string & {}) | number;
export type EdgeTypeLike = EdgeTypeName | (string & {}) | number;
export type DirectionLike = DirectionName | (string & {}) | number;
/** A uint64 in a request: a decimal string, a safe integer or a bigint. */
export type Uint64Like = string | number | bigint;
/** An int64 in a request (milliseconds since the Unix epoch). */
export type Int64Like = string | number;

export interface EntityKey {
  type: EntityTypeName;
  /** Decimal string. */
  id: string;
}
/** `{ type: 'PRODUCT', id: '1' }` (id also a number or bigint) or `'PRODUCT:1'`. */
export type KeyLike = { type: EntityTypeLike; id: Uint64Like } | string;

export interface Entity {
  key: EntityKey;
  name: string;
  attributes: Record<string, string>;
  metrics: Record<string, number>;
  updateTimeMs: string;
}
export interface EntityInput {
  key: KeyLike;
  name?: string;
  attributes?: Record<string, string>;
  metrics?: Record<string, number>;
  /** 0 or absent: the server's "now". */
  updateTimeMs?: Int64Like;
}

export interface Edge {
  src: EntityKey;
  type: EdgeTypeName;
  dst: EntityKey;
  timeMs: string;
  weight: number;
}
export interface EdgeInput {
  src: KeyLike;
  type: EdgeTypeLike;
  dst: KeyLike;
  /** 0 or absent: the server's "now". */
  timeMs?: Int64Like;
  weight?: number;
}
export interface EdgeKeyInput {
  src: KeyLike;
  type: EdgeTypeLike;
  dst: KeyLike;
}

/** A google.rpc.Code (0 = OK) and a message naming the offending field. */
export interface ItemStatus {
  code: number;
  message: string;
}
export interface DeleteEntityResult {
  status: ItemStatus | null;
  edgesRemoved: string;
}

export interface Neighbor {
  key: EntityKey;
  timeMs: string;
  weight: number;
  /** With includeEntities: whether the neighbor exists, and the entity. */
  entityFound: boolean;
  entity: Entity | null;
}
export interface NeighborCount {
  edgeType: EdgeTypeName;
  direction: DirectionName;
  count: string;
}

export type HopLike =
  | string
  | { edgeType: EdgeTypeLike; direction?: DirectionLike; limit?: number; sinceMs?: Int64Like; untilMs?: Int64Like };
export interface TraverseResult {
  key: EntityKey;
  score: number;
  pathCount: string;
  entityFound: boolean;
  entity: Entity | null;
}
export interface TraverseResponse {
  results: TraverseResult[];
  frontierSizes: string[];
  truncated: boolean;
}

export interface ProductText {
  title: string;
  description?: string;
  brand?: string;
  attributes?: Record<string, string>;
}
export interface CategoryPrediction {
  category: EntityKey;
  path: string[];
  confidence: number;
}
export interface CategorizeResult {
  /** null or code 0 when the item was categorized. */
  status: ItemStatus | null;
  predictions: CategoryPrediction[];
  sampled: string;
  total: string;
}
export interface CategorizeResponse {
  results: CategorizeResult[];
  modelVersion: string;
}

export type ImportRecordInput = { entity: EntityInput } | { edge: EdgeInput };
export interface ImportResponse {
  recordsReceived: string;
  entitiesUpserted: string;
  edgesUpserted: string;
  recordsRejected: string;
  firstErrors: Array<{ recordIndex: string; message: string }>;
}

export interface RetryOptions {
  /** Attempts in all, the first included (default 4). */
  maxAttempts?: number;
  /** Backoff before the first retry (default 50); each delay is uniform in [b/2, b]. */
  initialBackoffMs?: number;
  maxBackoffMs?: number;
  multiplier?: number;
}
export interface TlsOptions {
  /** PEM CA certificates (e.g. `readFileSync('ca.pem')`); absent: the system's roots. */
  rootCerts?: Buffer;
  /** PEM client certificate chain and key, for mutual TLS (servers with --tls_client_ca). */
  certChain?: Buffer;
  privateKey?: Buffer;
  /** The name checked in the server's certificate (and sent as SNI) instead of the target's host. */
  serverName?: string;
}
export interface KgClientOptions {
  /** Deadline of each call (all its retries included), in ms (default 10000). */
  deadlineMs?: number;
  retry?: RetryOptions;
  /** Connect over TLS (grpc.credentials.createSsl) instead of plaintext. */
  tls?: TlsOptions | null;
  /**
   * Sent as `authorization: Bearer <token>` on every call (servers started with
   * --auth_tokens require one). Absent: the environment's KG_TOKEN; '' or null: none.
   * A token of other than visible ASCII throws a TypeError.
   */
  token?: string | null;
  /** grpc-js channel options, over the client's defaults. */
  channelOptions?: grpc.ChannelOptions;
  /** The directory holding kg/v1/*.proto (default: the repository's proto/). */
  protoDir?: string;
  /**
   * Unary calls through 'native' (kgclient_native.node, a gRPC C++ channel; throws when it
   * is not built), 'grpc-js', or 'auto' (default: native when built).
   */
  transport?: 'auto' | 'native' | 'grpc-js';
}
export interface CallOptions {
  /** This call's deadline in ms, instead of the client's deadlineMs. */
  deadlineMs?: number;
}

/** A grpc-js client of one service: methods named as in the .proto, plain objects in and out. */
export type ServiceStub = grpc.Client & { [method: string]: any };

export declare class KgError extends Error {
  constructor(code: number, details: string, options?: { method?: string; metadata?: grpc.Metadata | null });
  /** The numeric gRPC status code. */
  readonly code: number;
  /** Its name, e.g. 'INVALID_ARGUMENT'. */
  readonly codeName: string;
  /** The server's message, unchanged. */
  readonly details: string;
  /** The RPC (and the batch item) that failed, e.g. 'GetEntities'. */
  readonly method: string;
  /** The trailing metadata (grpc-js transport only; null through the native one). */
  readonly metadata: grpc.Metadata | null;
}

/** Calls of a callMany failed; code and details are the first failure's. */
export declare class KgCallsError extends KgError {
  readonly failures: Array<{ index: number; error: KgError }>;
  /** Every reply, null where the call failed. */
  readonly replies: any[];
}

export declare class KgClient {
  constructor(target: string, options?: KgClientOptions);
  /** Whether unary calls go through the native transport. */
  readonly native: boolean;
  readonly deadlineMs: number;
  readonly retry: Required<RetryOptions>;
  /** The one channel every stub uses. */
  readonly channel: grpc.Channel;
  readonly graph: ServiceStub;
  readonly knowledge: ServiceStub;
  readonly insight: ServiceStub;
  readonly admin: ServiceStub;
  /** grpc.health.v1.Health. */
  readonly healthStub: ServiceStub;

  close(): void;
  health(service?: string, options?: CallOptions): Promise<'UNKNOWN' | 'SERVING' | 'NOT_SERVING' | 'SERVICE_UNKNOWN'>;
  /** One entry per key, in order: the entity, or null when it does not exist. */
  getEntities(keys: KeyLike | KeyLike[], options?: CallOptions & { fields?: string[] | string }): Promise<Array<Entity | null>>;
  /**
   * getEntities for many batches (at most 1000 keys each): one GetEntities call per batch,
   * up to maxInFlight (1..1024, default 32) at a time. One array per batch, in order.
   */
  getEntitiesMany(keyBatches: KeyLike[][], options?: CallOptions & { fields?: string[] | string; maxInFlight?: number }): Promise<Array<Array<Entity | null>>>;
  /**
   * stub[method] once per request, up to maxInFlight (1..1024, default 32) at a time; the
   * replies in order. Each call has its own deadline; UNAVAILABLE calls are retried alone
   * when idempotent (default), within one more deadline. Rejects with KgCallsError.
   */
  callMany(stub: ServiceStub, method: string, requests: object[], options?: CallOptions & { maxInFlight?: number; idempotent?: boolean }): Promise<any[]>;
  upsertEntities(entities: EntityInput | EntityInput[], options?: CallOptions & { merge?: boolean }): Promise<ItemStatus[]>;
  upsertEdges(edges: EdgeInput | EdgeInput[], options?: CallOptions): Promise<ItemStatus[]>;
  deleteEntities(keys: KeyLike | KeyLike[], options?: CallOptions): Promise<DeleteEntityResult[]>;
  deleteEdges(edges: EdgeKeyInput | EdgeKeyInput[], options?: CallOptions): Promise<ItemStatus[]>;
  neighbors(key: KeyLike, edgeType: EdgeTypeLike, options?: CallOptions & {
    direction?: DirectionLike;
    sinceMs?: Int64Like;
    untilMs?: Int64Like;
    /** Neighbors per call (0 = the server's 20; at most 1000). */
    pageSize?: number;
    includeEntities?: boolean;
    fields?: string[] | string;
    maxPages?: number;
  }): AsyncGenerator<Neighbor, void, undefined>;
  /** Per key, in order: its counts per edge type and direction. */
  countNeighbors(keys: KeyLike | KeyLike[], options?: CallOptions & {
    edgeTypes?: EdgeTypeLike | EdgeTypeLike[];
    directions?: DirectionLike | DirectionLike[];
    sinceMs?: Int64Like;
    untilMs?: Int64Like;
  }): Promise<NeighborCount[][]>;
  traverse(start: KeyLike | KeyLike[], hops: HopLike | HopLike[], options?: CallOptions & {
    maxResults?: number;
    includeStart?: boolean;
    includeEntities?: boolean;
    fields?: string[] | string;
    ranking?: 'PATH_COUNT' | 'WEIGHT_SUM' | (string & {}) | number;
    maxFrontier?: number;
    sinceMs?: Int64Like;
    untilMs?: Int64Like;
  }): Promise<TraverseResponse>;
  categorize(request: CallOptions & {
    texts?: Array<string | ProductText>;
    keys?: KeyLike[];
    topK?: number;
  }): Promise<CategorizeResponse>;
  importRecords(records: Iterable<ImportRecordInput> | AsyncIterable<ImportRecordInput>, options?: CallOptions & {
    /** Records per stream message (default 1000; 1..10000). */
    batchSize?: number;
    /** Rejected records tolerated before the server stops the import (default 0). */
    maxErrors?: number;
    onProgress?: (progress: { recordsSent: number }) => void;
  }): Promise<ImportResponse>;
}

/**
 * 'PRODUCT:1' -> { type: 'PRODUCT', id: '1' }: the type upper-cased (whether it names an
 * EntityType is checked when the key is sent), the id digits; TypeError for other text.
 */
export declare function parseKey(text: string): { type: string; id: string };
export declare const status: typeof grpc.status;
/** The repository's proto/ directory, the default protoDir. */
export declare const DEFAULT_PROTO_DIR: string;
