/**
 * What a profile names when it names no apps: the built-in sandbox app in every role. Which other apps
 * exist is the apps domain's business (src/apps: installed apps, checked when a profile is created). A
 * leaf (imports only the apps domain's leaf types).
 */
import { SANDBOX_APP_ID } from '../apps/types';

export { SANDBOX_APP_ID };

/** Every app role filled by the sandbox app: what a profile uses when it names no apps. */
export const sandboxApps = () => ({
  invoicing: { id: SANDBOX_APP_ID },
  payment: { id: SANDBOX_APP_ID },
  tax: { id: SANDBOX_APP_ID },
});
