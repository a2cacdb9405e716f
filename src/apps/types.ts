/**
 * App types, capabilities and the catalog (a leaf, no imports: the workflow bundle and other domains may
 * import it). The sandbox app is installed by default with a fixed id that profiles and invoices name.
 */

export const APP_TYPES = ['sandbox', 'stripe', 'custom_invoicing'] as const;
export type AppType = (typeof APP_TYPES)[number];

export const CAPABILITY_TYPES = ['invoice_customers', 'collect_payments', 'calculate_tax'] as const;
export type CapabilityType = (typeof CAPABILITY_TYPES)[number];

export interface Capability {
  type: CapabilityType;
  key: string;
  name: string;
  description: string;
}

export interface CatalogItem {
  type: AppType;
  name: string;
  description: string;
  capabilities: Capability[];
  install_methods: ('no_credentials_required' | 'with_api_key')[];
}

const cap = (type: CapabilityType, name: string, description: string): Capability => ({
  type,
  key: type,
  name,
  description,
});

export const CATALOG: readonly CatalogItem[] = [
  {
    type: 'sandbox',
    name: 'Sandbox',
    description:
      'Issues invoices itself and settles them at once (paid), or as failed, uncollectible or action ' +
      `required when the invoice or its customer carries the label ${'`openmeter.io/sandbox/target-payment-status`'}.`,
    capabilities: [
      cap('invoice_customers', 'Invoice customers', 'Issues invoices'),
      cap('collect_payments', 'Collect payments', 'Simulates payments'),
      cap('calculate_tax', 'Calculate tax', 'Computes no tax'),
    ],
    install_methods: ['no_credentials_required'],
  },
  {
    type: 'stripe',
    name: 'Stripe',
    description: "Issues invoices in Stripe and collects their payment with the customer's payment method.",
    capabilities: [
      cap('invoice_customers', 'Invoice customers', 'Creates, finalizes and sends Stripe invoices'),
      cap('collect_payments', 'Collect payments', 'Charges the default payment method or sends the invoice'),
      cap('calculate_tax', 'Calculate tax', 'Stripe computes no tax for Tally yet (no tax lines)'),
    ],
    install_methods: ['with_api_key'],
  },
  {
    type: 'custom_invoicing',
    name: 'Custom Invoicing',
    description:
      'For teams that invoice from their own system: with a sync hook enabled, the invoice waits until that ' +
      'system reports the draft or the issued invoice synchronized; it reports the payment status.',
    capabilities: [
      cap('invoice_customers', 'Invoice customers', 'Invoices through the external system'),
      cap('collect_payments', 'Collect payments', 'The external system reports the payment status'),
    ],
    install_methods: ['no_credentials_required'],
  },
];

/** The custom-invoicing app's settings (as OpenMeter's). */
export interface CustomInvoicingSettings {
  enable_draft_sync_hook: boolean;
  enable_issuing_sync_hook: boolean;
}

export const catalogItem = (type: string): CatalogItem | undefined => CATALOG.find((c) => c.type === type);

/** The built-in sandbox app's id (a fixed ULID). */
export const SANDBOX_APP_ID = '00000000000000000000SANDBX';

/** The label (on the invoice or its customer) the sandbox reads for the payment outcome (as OpenMeter). */
export const SANDBOX_TARGET_STATUS_LABEL = 'openmeter.io/sandbox/target-payment-status';
export const SANDBOX_TARGETS = ['paid', 'failed', 'uncollectible', 'action_required'] as const;
export type SandboxTarget = (typeof SANDBOX_TARGETS)[number];

/** Which capability each role of a billing profile needs. */
export const ROLE_CAPABILITY = {
  invoicing: 'invoice_customers',
  payment: 'collect_payments',
  tax: 'calculate_tax',
} as const satisfies Record<string, CapabilityType>;
