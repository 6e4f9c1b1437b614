import { URLExt } from '@jupyterlab/coreutils';
import { ServerConnection } from '@jupyterlab/services';
import { errorMessage } from './format';

/** Longer than the server's bound on store calls (8 s): a silent Jupyter server, not the store. */
export const REQUEST_TIMEOUT_MS = 15_000;

/** A failed /nbops/api/ call: HTTP status and the server's message. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    message: string,
    readonly reason: string = ''
  ) {
    super(message);
    this.name = 'ApiError';
  }
}

/**
 * Call /nbops/api/<endPoint>; ServerConnection adds the token and the XSRF header.
 * Throws ApiError with the server's message on any non-2xx answer (status 0: no answer).
 */
export async function requestAPI<T>(
  endPoint: string,
  init: RequestInit = {},
  settings: ServerConnection.ISettings = ServerConnection.makeSettings()
): Promise<T> {
  const url = URLExt.join(settings.baseUrl, 'nbops', 'api', endPoint);
  let response: Response;
  try {
    response = await ServerConnection.makeRequest(
      url,
      { ...init, signal: init.signal ?? AbortSignal.timeout(REQUEST_TIMEOUT_MS) },
      settings
    );
  } catch (error) {
    throw new ApiError(0, `The Jupyter server did not answer: ${String(error)}`, 'network');
  }
  const text = await response.text();
  let data: unknown = text;
  if (text.length > 0) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    const reason =
      typeof data === 'object' && data !== null && 'reason' in data
        ? String((data as { reason: unknown }).reason)
        : '';
    throw new ApiError(response.status, errorMessage(response.status, data), reason);
  }
  return data as T;
}

/** A query string from the defined values of `params`. */
export function query(params: Record<string, string | number | undefined | null>): string {
  const parts = Object.entries(params)
    .filter(([, v]) => v !== undefined && v !== null && v !== '')
    .map(([k, v]) => `${encodeURIComponent(k)}=${encodeURIComponent(String(v))}`);
  return parts.length ? `?${parts.join('&')}` : '';
}
