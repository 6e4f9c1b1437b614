/** The calls the Models panel makes to /nbops/api/, typed by the wire contract. */
import {
  AliasChange,
  LineageGraph,
  ModelDetail,
  ModelPage,
  PromoteRequest,
  RollbackRequest
} from './contract';
import { ApiError, query, requestAPI } from './request';

export const PAGE_SIZE = 50;
export const MAX_PAGE = 1000;

/** One page of models whose name contains `search`. */
export function listModels(search: string, size: number, pageToken?: string | null): Promise<ModelPage> {
  return requestAPI<ModelPage>(
    'models' + query({ search, max_results: Math.min(size, MAX_PAGE), page_token: pageToken })
  );
}

export function getModel(name: string): Promise<ModelDetail> {
  return requestAPI<ModelDetail>(`models/${encodeURIComponent(name)}`);
}

/** The lineage around `ref`, each node placed (layer, order) by the server. */
export function getLineage(ref: string): Promise<LineageGraph> {
  return requestAPI<LineageGraph>('lineage' + query({ ref, direction: 'both', depth: 3 }));
}

export function promote(name: string, body: PromoteRequest): Promise<AliasChange> {
  return requestAPI<AliasChange>(`models/${encodeURIComponent(name)}/aliases`, {
    method: 'POST',
    body: JSON.stringify(body)
  });
}

export function rollback(name: string, alias: string, body: RollbackRequest): Promise<AliasChange> {
  return requestAPI<AliasChange>(
    `models/${encodeURIComponent(name)}/aliases/${encodeURIComponent(alias)}/rollback`,
    { method: 'POST', body: JSON.stringify(body) }
  );
}

/** The message and HTTP status of a failed call (status 0: no answer, or not an API error). */
export function describe(error: unknown): { message: string; status: number } {
  if (error instanceof ApiError) {
    return { message: error.message, status: error.status };
  }
  return { message: String(error), status: 0 };
}
