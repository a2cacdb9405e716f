/**
 * The apps a billing profile may name (invoicing, payment, tax). Until the apps issue adds others, the only
 * app is the built-in sandbox app: it issues invoices itself, settles `charge_automatically` invoices at once
 * and leaves `send_invoice` invoices to be marked paid. A leaf file (no imports): the workflow bundle may
 * import it.
 */

/** The built-in sandbox app's id (a fixed ULID). */
export const SANDBOX_APP_ID = '00000000000000000000SANDBX';

/** The ids of the apps that exist (upper case: ULIDs are case-insensitive). */
export const KNOWN_APP_IDS: readonly string[] = [SANDBOX_APP_ID];

/** Whether `id` (any case) names an app that exists. */
export const isKnownApp = (id: string): boolean => KNOWN_APP_IDS.includes(id.toUpperCase());

/** Every app role filled by the sandbox app: what a profile uses when it names no apps. */
export const sandboxApps = () => ({
  invoicing: { id: SANDBOX_APP_ID },
  payment: { id: SANDBOX_APP_ID },
  tax: { id: SANDBOX_APP_ID },
});
