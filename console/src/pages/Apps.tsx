/**
 * Settings → Apps: the app catalog (install the sandbox, Stripe or custom invoicing with each type's
 * settings), the installed apps and one app's page (update, uninstall: the API's 409 while a billing profile
 * uses it), and a customer's Stripe data where its billing profile collects payments through Stripe.
 * Secrets (Stripe keys, webhook secrets) are typed into password fields and never shown back: the API
 * returns only `masked_api_key`.
 */
import {
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  Group,
  Modal,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, unwrap, type Schemas } from '../api/client';
import type { paths } from '../api/schema';
import { when } from '../lib/format';
import { ErrorMessage, FormFooter, SecretInput, Loading, PagedTable, useApiForm } from '../lib/ui';
import { useProfiles } from './Profiles';

type App = Schemas['App'];
type CatalogItem = Schemas['AppCatalogItem'];
export type Role = 'invoicing' | 'payment' | 'tax';

/** the capability an app needs for each role of a billing profile */
export const ROLE_CAPABILITY: Record<Role, Schemas['AppCapability']['type']> = {
  invoicing: 'invoice_customers',
  payment: 'collect_payments',
  tax: 'calculate_tax',
};
export const ROLE_LABEL: Record<Role, string> = {
  invoicing: 'Invoicing app',
  payment: 'Payment app',
  tax: 'Tax app',
};

/** every installed app (the API pages them; a workspace has few) */
export function useInstalledApps() {
  return useQuery({
    queryKey: ['apps', 'all'],
    queryFn: () => unwrap(api.GET('/v3/openmeter/apps', { params: { query: { 'page[size]': 1000 } } })),
  });
}

export const appTypeLabel = (t: string) =>
  t === 'custom_invoicing' ? 'Custom invoicing' : t === 'stripe' ? 'Stripe' : t === 'sandbox' ? 'Sandbox' : t;

/** what an app's settings are, in a line (never a secret: the masked key only) */
function appDetails(a: App): string {
  if (a.type === 'stripe')
    return `key ${a.masked_api_key || '—'}, account ${a.account_id || '—'}${a.livemode ? ', live' : ', test mode'}`;
  if (a.type === 'custom_invoicing') {
    const hooks = [a.enable_draft_sync_hook && 'draft', a.enable_issuing_sync_hook && 'issuing'].filter(
      Boolean,
    );
    return hooks.length ? `sync hooks: ${hooks.join(', ')}` : 'no sync hooks';
  }
  return 'no settings';
}

export function AppsSettings() {
  const [installing, setInstalling] = useState<CatalogItem | null>(null);
  const catalog = useQuery({
    queryKey: ['app-catalog'],
    queryFn: () => unwrap(api.GET('/v3/openmeter/app-catalog', { params: { query: { 'page[size]': 100 } } })),
  });
  return (
    <Stack>
      <Card withBorder>
        <Title order={3} size="h4" mb="xs">
          App catalog
        </Title>
        {catalog.isPending && <Loading what="the app catalog" />}
        <ErrorMessage error={catalog.error} />
        {catalog.data && (
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            {catalog.data.data.map((item) => (
              <Card key={item.type} withBorder aria-label={`${item.name} app`}>
                <Stack gap="xs" h="100%" justify="space-between">
                  <div>
                    <Title order={4} size="h5">
                      {item.name}
                    </Title>
                    <Text size="sm" c="dimmed">
                      {item.description}
                    </Text>
                    <Group gap={4} mt="xs">
                      {item.capabilities.map((c) => (
                        <Badge key={c.type} variant="light" size="sm">
                          {c.name}
                        </Badge>
                      ))}
                    </Group>
                  </div>
                  <Button size="xs" w="fit-content" onClick={() => setInstalling(item)}>
                    Install {item.name}
                  </Button>
                </Stack>
              </Card>
            ))}
          </SimpleGrid>
        )}
      </Card>
      <Card withBorder>
        <Title order={3} size="h4" mb="xs">
          Installed apps
        </Title>
        <PagedTable
          queryKey={['apps', 'page']}
          fetchPage={(p) =>
            unwrap(
              api.GET('/v3/openmeter/apps', {
                params: { query: { 'page[size]': p.size, 'page[number]': p.number } },
              }),
            )
          }
          label="Installed apps"
          what="installed apps"
          empty="No apps installed."
          rowKey={(a) => a.id}
          columns={[
            {
              header: 'Name',
              cell: (a) => (
                <Anchor component={Link} to={`/settings/apps/${a.id}`}>
                  {a.name}
                </Anchor>
              ),
            },
            { header: 'Type', cell: (a) => appTypeLabel(a.type) },
            { header: 'Status', cell: (a) => <StatusBadge app={a} /> },
            { header: 'Settings', cell: appDetails },
            { header: 'Installed', cell: (a) => when(a.created_at) },
          ]}
        />
      </Card>
      {installing && <InstallApp item={installing} onClose={() => setInstalling(null)} />}
    </Stack>
  );
}

function StatusBadge({ app }: { app: App }) {
  return <Badge color={app.status === 'ready' ? 'green' : 'red'}>{app.status}</Badge>;
}

type InstallBody =
  paths['/v3/openmeter/app-catalog/install']['post']['requestBody']['content']['application/json'];

function InstallApp({ item, onClose }: { item: CatalogItem; onClose: () => void }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState(item.name);
  const [apiKey, setApiKey] = useState('');
  const [webhookSecret, setWebhookSecret] = useState('');
  const [draftHook, setDraftHook] = useState(false);
  const [issuingHook, setIssuingHook] = useState(false);
  const install = useApiForm(
    ['type', 'name', 'api_key', 'webhook_secret', 'enable_draft_sync_hook', 'enable_issuing_sync_hook'],
    {
      mutationFn: () => {
        const body: InstallBody =
          item.type === 'stripe'
            ? {
                type: 'stripe',
                name,
                api_key: apiKey,
                ...(webhookSecret ? { webhook_secret: webhookSecret } : {}),
              }
            : item.type === 'custom_invoicing'
              ? {
                  type: 'custom_invoicing',
                  name,
                  enable_draft_sync_hook: draftHook,
                  enable_issuing_sync_hook: issuingHook,
                }
              : { type: 'sandbox', name };
        return unwrap(api.POST('/v3/openmeter/app-catalog/install', { body }));
      },
      onSuccess: async (r) => {
        await qc.invalidateQueries({ queryKey: ['apps'] });
        onClose();
        void navigate(`/settings/apps/${r.app.id}`);
      },
    },
  );
  const f = install.errors.field;
  return (
    <Modal opened onClose={onClose} title={`Install ${item.name}`} size="lg">
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          install.mutate();
        }}
      >
        <Stack>
          <Text size="sm" c="dimmed">
            {item.description}
          </Text>
          <TextInput
            label="Name"
            required
            data-autofocus
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={f('name')}
          />
          {item.type === 'stripe' && (
            <>
              <SecretInput
                label="Secret API key"
                description="A secret (sk_…) or restricted (rk_…) key. Checked with Stripe, stored write-only: it is never shown again."
                required
                value={apiKey}
                onChange={(e) => setApiKey(e.currentTarget.value)}
                error={f('api_key')}
              />
              <SecretInput
                label="Webhook signing secret"
                description="Only when Stripe returns none for the endpoint Tally registers (stripe-mock, or an endpoint managed outside Tally)."
                value={webhookSecret}
                onChange={(e) => setWebhookSecret(e.currentTarget.value)}
                error={f('webhook_secret')}
              />
            </>
          )}
          {item.type === 'custom_invoicing' && (
            <>
              <Checkbox
                label="Draft sync hook (drafts wait until your system reports them synchronized)"
                checked={draftHook}
                onChange={(e) => setDraftHook(e.currentTarget.checked)}
                error={f('enable_draft_sync_hook')}
              />
              <Checkbox
                label="Issuing sync hook (invoices are issued once your system reports them synchronized)"
                checked={issuingHook}
                onChange={(e) => setIssuingHook(e.currentTarget.checked)}
                error={f('enable_issuing_sync_hook')}
              />
            </>
          )}
          <FormFooter
            error={install.errors.other}
            onCancel={onClose}
            submit="Install app"
            busy={install.isPending}
          />
        </Stack>
      </form>
    </Modal>
  );
}

/** the profiles that name an app, with the roles they give it */
function useProfilesUsing(appId: string): { name: string; roles: Role[] }[] | undefined {
  const profiles = useProfiles();
  return profiles.data?.data
    .map((p) => ({
      name: p.name,
      roles: (['invoicing', 'payment', 'tax'] as const).filter((r) => p.apps[r]?.id === appId),
    }))
    .filter((p) => p.roles.length > 0);
}

export function AppPage() {
  const { appId = '' } = useParams();
  const navigate = useNavigate();
  const qc = useQueryClient();
  const [editing, setEditing] = useState(false);
  const [uninstalling, setUninstalling] = useState(false);
  const app = useQuery({
    queryKey: ['apps', 'one', appId],
    queryFn: () => unwrap(api.GET('/v3/openmeter/apps/{appId}', { params: { path: { appId } } })),
  });
  const usedBy = useProfilesUsing(appId);
  const uninstall = useApiForm([], {
    mutationFn: () => unwrap(api.DELETE('/v3/openmeter/apps/{appId}', { params: { path: { appId } } })),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['apps'] });
      void navigate('/settings/apps');
    },
  });
  if (app.isPending) return <Loading what="the app" />;
  if (app.error) return <ErrorMessage error={app.error} />;
  const a = app.data;
  return (
    <Stack>
      <Anchor component={Link} to="/settings/apps" size="sm">
        ← Apps
      </Anchor>
      <Group justify="space-between">
        <Group>
          <Title order={2}>{a.name}</Title>
          <Badge variant="light">{appTypeLabel(a.type)}</Badge>
          <StatusBadge app={a} />
        </Group>
        <Group gap="xs">
          <Button variant="default" onClick={() => setEditing(true)}>
            Edit app
          </Button>
          <Button
            variant="default"
            color="red"
            onClick={() => {
              uninstall.reset();
              setUninstalling(true);
            }}
          >
            Uninstall
          </Button>
        </Group>
      </Group>
      {a.description && <Text>{a.description}</Text>}
      <SimpleGrid cols={{ base: 1, sm: 3 }} aria-label="App settings">
        <Item label="ID">
          <Code>{a.id}</Code>
        </Item>
        <Item label="Installed">{when(a.created_at)}</Item>
        <Item label="Updated">{when(a.updated_at)}</Item>
        {a.type === 'stripe' && (
          <>
            <Item label="API key">{a.masked_api_key || '—'}</Item>
            <Item label="Stripe account">{a.account_id || '—'}</Item>
            <Item label="Mode">{a.livemode ? 'live' : 'test'}</Item>
          </>
        )}
        {a.type === 'custom_invoicing' && (
          <>
            <Item label="Draft sync hook">{a.enable_draft_sync_hook ? 'on' : 'off'}</Item>
            <Item label="Issuing sync hook">{a.enable_issuing_sync_hook ? 'on' : 'off'}</Item>
          </>
        )}
        <Item label="Capabilities">{a.definition.capabilities.map((c) => c.name).join(', ')}</Item>
        <Item label="Used by billing profiles">
          {usedBy === undefined
            ? '…'
            : usedBy.length
              ? usedBy.map((p) => `${p.name} (${p.roles.join(', ')})`).join('; ')
              : 'none'}
        </Item>
      </SimpleGrid>
      {editing && <EditApp app={a} onClose={() => setEditing(false)} />}
      <Modal opened={uninstalling} onClose={() => setUninstalling(false)} title={`Uninstall ${a.name}?`}>
        <Stack>
          <Text size="sm">
            Invoices keep naming the app. An app a billing profile uses cannot be uninstalled: give the
            profile another app first.
          </Text>
          <ErrorMessage error={uninstall.errors.other} title="Not uninstalled" />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setUninstalling(false)}>
              Keep it
            </Button>
            <Button color="red" loading={uninstall.isPending} onClick={() => uninstall.mutate()}>
              Uninstall app
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

function Item({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text component="div" size="sm">
        {children}
      </Text>
    </div>
  );
}

function EditApp({ app, onClose }: { app: App; onClose: () => void }) {
  const qc = useQueryClient();
  const [name, setName] = useState(app.name);
  const [description, setDescription] = useState(app.description ?? '');
  const [newKey, setNewKey] = useState('');
  const [draftHook, setDraftHook] = useState(app.enable_draft_sync_hook ?? false);
  const [issuingHook, setIssuingHook] = useState(app.enable_issuing_sync_hook ?? false);
  const save = useApiForm(
    [
      'type',
      'name',
      'description',
      'labels',
      'secret_api_key',
      'enable_draft_sync_hook',
      'enable_issuing_sync_hook',
    ],
    {
      mutationFn: () =>
        unwrap(
          api.PUT('/v3/openmeter/apps/{appId}', {
            params: { path: { appId: app.id } },
            body: {
              type: app.type,
              name,
              description: description.trim() ? description : null,
              ...(app.labels ? { labels: app.labels } : {}),
              ...(app.type === 'stripe' && newKey ? { secret_api_key: newKey } : {}),
              ...(app.type === 'custom_invoicing'
                ? { enable_draft_sync_hook: draftHook, enable_issuing_sync_hook: issuingHook }
                : {}),
            },
          }),
        ),
      onSuccess: async () => {
        await qc.invalidateQueries({ queryKey: ['apps'] });
        onClose();
      },
    },
  );
  const f = save.errors.field;
  return (
    <Modal opened onClose={onClose} title={`Edit ${app.name}`} size="lg">
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="Name"
            required
            data-autofocus
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={f('name')}
          />
          <TextInput
            label="Description"
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
            error={f('description')}
          />
          {app.type === 'stripe' && (
            <SecretInput
              label="New secret API key"
              description={`Now ${app.masked_api_key || '—'}. Empty: keep it. A new key is checked with Stripe and stored write-only.`}
              value={newKey}
              onChange={(e) => setNewKey(e.currentTarget.value)}
              error={f('secret_api_key')}
            />
          )}
          {app.type === 'custom_invoicing' && (
            <>
              <Checkbox
                label="Draft sync hook (for invoices started from now on)"
                checked={draftHook}
                onChange={(e) => setDraftHook(e.currentTarget.checked)}
                error={f('enable_draft_sync_hook')}
              />
              <Checkbox
                label="Issuing sync hook"
                checked={issuingHook}
                onChange={(e) => setIssuingHook(e.currentTarget.checked)}
                error={f('enable_issuing_sync_hook')}
              />
            </>
          )}
          <FormFooter error={save.errors.other} onCancel={onClose} submit="Save app" busy={save.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

/**
 * A customer's Stripe data (its Stripe customer and default payment method), shown when the customer's
 * billing profile collects payments through a Stripe app; saving without a Stripe customer id creates one.
 */
export function CustomerStripeCard({ customerId }: { customerId: string }) {
  const qc = useQueryClient();
  const [editing, setEditing] = useState(false);
  const billing = useQuery({
    queryKey: ['customer-billing', customerId],
    queryFn: () =>
      unwrap(api.GET('/v3/openmeter/customers/{customerId}/billing', { params: { path: { customerId } } })),
  });
  const profiles = useProfiles();
  const apps = useInstalledApps();
  const profileId = billing.data?.billing_profile?.id;
  const profile = profiles.data?.data.find((p) => (profileId ? p.id === profileId : p.default));
  const paymentApp = apps.data?.data.find((a) => a.id === profile?.apps.payment.id);
  const stripe = paymentApp?.type === 'stripe' ? paymentApp : undefined;
  const data = useQuery({
    queryKey: ['customer-app-data', customerId],
    enabled: !!stripe,
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/customers/{customerId}/billing/app-data', {
          params: { path: { customerId } },
        }),
      ),
  });
  if (!stripe) return null;
  const s = data.data?.stripe;
  return (
    <Card withBorder aria-label="Stripe">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h5">
          Stripe ({stripe.name})
        </Title>
        <Button size="xs" variant="default" disabled={!data.data} onClick={() => setEditing(true)}>
          Edit Stripe data
        </Button>
      </Group>
      {data.isPending && <Loading what="the Stripe data" />}
      <ErrorMessage error={data.error} />
      {data.data && (
        <Stack gap={4}>
          <Text size="sm">
            Stripe customer: {s?.customer_id ?? 'none yet (created at the first invoice)'}
          </Text>
          <Text size="sm">Default payment method: {s?.default_payment_method_id ?? '—'}</Text>
        </Stack>
      )}
      {editing && (
        <StripeDataForm
          customerId={customerId}
          current={s ?? {}}
          onClose={() => setEditing(false)}
          onSaved={() => qc.invalidateQueries({ queryKey: ['customer-app-data', customerId] })}
        />
      )}
    </Card>
  );
}

function StripeDataForm({
  customerId,
  current,
  onClose,
  onSaved,
}: {
  customerId: string;
  current: NonNullable<Schemas['AppCustomerData']['stripe']>;
  onClose: () => void;
  onSaved: () => Promise<void>;
}) {
  const [stripeCustomer, setStripeCustomer] = useState(current.customer_id ?? '');
  const [method, setMethod] = useState(current.default_payment_method_id ?? '');
  const save = useApiForm(['stripe', 'stripe.customer_id', 'stripe.default_payment_method_id'], {
    mutationFn: () =>
      unwrap(
        api.PUT('/v3/openmeter/customers/{customerId}/billing/app-data', {
          params: { path: { customerId } },
          body: {
            stripe: {
              ...(stripeCustomer.trim() ? { customer_id: stripeCustomer.trim() } : {}),
              ...(method.trim() ? { default_payment_method_id: method.trim() } : {}),
              ...(current.labels ? { labels: current.labels } : {}),
            },
          },
        }),
      ),
    onSuccess: async () => {
      await onSaved();
      onClose();
    },
  });
  return (
    <Modal opened onClose={onClose} title="Stripe data">
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="Stripe customer ID"
            description="cus_…; empty: Tally creates the Stripe customer"
            data-autofocus
            value={stripeCustomer}
            onChange={(e) => setStripeCustomer(e.currentTarget.value)}
            error={save.errors.field('stripe.customer_id') ?? save.errors.field('stripe')}
          />
          <TextInput
            label="Default payment method"
            description="pm_…; empty: the Stripe customer's default"
            value={method}
            onChange={(e) => setMethod(e.currentTarget.value)}
            error={save.errors.field('stripe.default_payment_method_id')}
          />
          <FormFooter
            error={save.errors.other}
            onCancel={onClose}
            submit="Save Stripe data"
            busy={save.isPending}
          />
        </Stack>
      </form>
    </Modal>
  );
}
