/**
 * Billing profiles (Settings → Billing profiles: list, create, edit, make default, delete) and a customer's
 * billing settings (its profile and its overrides of the profile's workflow).
 */
import {
  Badge,
  Button,
  Card,
  Checkbox,
  Group,
  Modal,
  Select,
  SimpleGrid,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  VisuallyHidden,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, unwrap, type Schemas } from '../api/client';
import { ErrorMessage, FormFooter, GroupError, Loading, useApiForm } from '../lib/ui';
import { ROLE_CAPABILITY, ROLE_LABEL, useInstalledApps, type Role } from './Apps';

type Profile = Schemas['BillingProfile'];

/** the built-in sandbox app (installed by the API's first migration): every role's default */
const SANDBOX_APP_ID = '00000000000000000000SANDBX';
const ROLES = ['invoicing', 'payment', 'tax'] as const;

/**
 * The apps a profile uses, one per role, among the installed apps with the role's capability. They are
 * chosen at creation: the API keeps them for the profile's life (`fixed`: shown, not editable).
 */
function AppInputs({
  value,
  onChange,
  error,
  fixed,
}: {
  value: Record<Role, string>;
  onChange: (role: Role, appId: string) => void;
  error: (field: string) => string | undefined;
  fixed: boolean;
}) {
  const apps = useInstalledApps();
  return (
    <>
      <Text size="sm" fw={500}>
        Apps{fixed ? ' (chosen when the profile was created)' : ''}
      </Text>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        {ROLES.map((r) => {
          const able = (apps.data?.data ?? []).filter((a) =>
            a.definition.capabilities.some((c) => c.type === ROLE_CAPABILITY[r]),
          );
          const data = able.map((a) => ({ value: a.id, label: a.name }));
          // an app that is not (or no more) listed still shows by its id
          if (!data.some((d) => d.value === value[r])) data.push({ value: value[r], label: value[r] });
          return (
            <Select
              key={r}
              label={ROLE_LABEL[r]}
              data={data}
              value={value[r]}
              onChange={(v) => v && onChange(r, v)}
              allowDeselect={false}
              disabled={fixed}
              placeholder={apps.isPending ? 'Loading apps…' : undefined}
              error={error(`apps.${r}`)}
            />
          );
        })}
      </SimpleGrid>
      <GroupError error={error('apps')} />
    </>
  );
}
type Workflow = Schemas['BillingWorkflow'];

export function useProfiles() {
  return useQuery({
    queryKey: ['profiles'],
    queryFn: () => unwrap(api.GET('/v3/openmeter/profiles', { params: { query: { 'page[size]': 100 } } })),
  });
}

const METHODS = [
  { value: 'charge_automatically', label: 'Charge automatically' },
  { value: 'send_invoice', label: 'Send invoice' },
];
const ALIGNMENTS = [
  { value: 'subscription', label: 'Subscription (each subscription’s own periods)' },
  { value: 'anchored', label: 'Anchored (one recurring anchor per customer)' },
];

function collectionText(w: Workflow): string {
  const a = w.collection?.alignment;
  const align =
    a?.type === 'anchored' ? `anchored every ${a.recurring_period.interval}` : 'subscription periods';
  return `${align}, late usage ${w.collection?.interval ?? '—'}`;
}

function invoicingText(w: Workflow): string {
  const draft =
    w.invoicing?.draft_period && w.invoicing.draft_period !== 'P0D' ? w.invoicing.draft_period : '';
  return `${w.invoicing?.auto_advance === false ? 'manual approval' : 'auto-advance'}${draft ? `, draft ${draft}` : ''}`;
}

function paymentText(w: Workflow): string {
  const p = w.payment;
  if (!p) return '—';
  return p.collection_method === 'send_invoice'
    ? `send invoice, due after ${p.due_after ?? 'P30D'}`
    : 'charge automatically';
}

/** a profile's apps: one name when one app has every role, else each role's */
function appsText(p: Profile, name: (id: string) => string): string {
  const ids = ROLES.map((r) => p.apps[r].id);
  if (ids.every((id) => id === ids[0])) return name(ids[0]);
  return ROLES.map((r) => `${r}: ${name(p.apps[r].id)}`).join(', ');
}

export function BillingProfilesCard() {
  const qc = useQueryClient();
  const profiles = useProfiles();
  const apps = useInstalledApps();
  const appName = (id: string) => apps.data?.data.find((a) => a.id === id)?.name ?? id;
  const [editing, setEditing] = useState<Profile | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Profile | null>(null);
  const makeDefault = useMutation({
    mutationFn: (p: Profile) =>
      unwrap(
        api.PUT('/v3/openmeter/profiles/{id}', {
          params: { path: { id: p.id } },
          body: replaceBodyOf(p, { default: true }),
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['profiles'] }),
  });
  const remove = useMutation({
    mutationFn: (p: Profile) =>
      unwrap(api.DELETE('/v3/openmeter/profiles/{id}', { params: { path: { id: p.id } } })),
    onSuccess: async () => {
      setDeleting(null);
      await qc.invalidateQueries({ queryKey: ['profiles'] });
    },
  });
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">
          Billing profiles
        </Title>
        <Button size="xs" onClick={() => setEditing('new')}>
          Create billing profile
        </Button>
      </Group>
      <Text size="xs" c="dimmed" mb="xs">
        A profile says who bills (the supplier on every invoice) and how invoices run. Each invoice keeps the
        settings it was created with; an edit affects later invoices.
      </Text>
      {profiles.isPending && <Loading what="billing profiles" />}
      <ErrorMessage error={profiles.error} />
      <ErrorMessage error={makeDefault.error} title="Not made the default" />
      {profiles.data && (
        <Table.ScrollContainer minWidth={860}>
          <Table striped aria-label="Billing profiles">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Name</Table.Th>
                <Table.Th>Supplier</Table.Th>
                <Table.Th>Collection</Table.Th>
                <Table.Th>Invoicing</Table.Th>
                <Table.Th>Payment</Table.Th>
                <Table.Th>Apps</Table.Th>
                <Table.Th>
                  <VisuallyHidden>Actions</VisuallyHidden>
                </Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {profiles.data.data.map((p) => (
                <Table.Tr key={p.id}>
                  <Table.Td>
                    {p.name} {p.default && <Badge ml="xs">default</Badge>}
                  </Table.Td>
                  <Table.Td>{p.supplier.name ?? '—'}</Table.Td>
                  <Table.Td>{collectionText(p.workflow)}</Table.Td>
                  <Table.Td>{invoicingText(p.workflow)}</Table.Td>
                  <Table.Td>{paymentText(p.workflow)}</Table.Td>
                  <Table.Td>{appsText(p, appName)}</Table.Td>
                  <Table.Td>
                    <Group gap={4} wrap="nowrap">
                      <Button
                        size="xs"
                        variant="default"
                        aria-label={`Edit ${p.name}`}
                        onClick={() => setEditing(p)}
                      >
                        Edit
                      </Button>
                      {!p.default && (
                        <Button
                          size="xs"
                          variant="default"
                          aria-label={`Make ${p.name} the default`}
                          loading={makeDefault.isPending && makeDefault.variables?.id === p.id}
                          onClick={() => makeDefault.mutate(p)}
                        >
                          Make default
                        </Button>
                      )}
                      <Button
                        size="xs"
                        variant="subtle"
                        color="red"
                        aria-label={`Delete ${p.name}`}
                        onClick={() => {
                          remove.reset();
                          setDeleting(p);
                        }}
                      >
                        Delete
                      </Button>
                    </Group>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      {editing && (
        <ProfileForm profile={editing === 'new' ? undefined : editing} onClose={() => setEditing(null)} />
      )}
      <Modal
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title={`Delete ${deleting?.name ?? ''}?`}
      >
        <Stack>
          <Text size="sm">
            Invoices created with this profile keep their settings. The default profile and a profile a
            customer uses cannot be deleted.
          </Text>
          <ErrorMessage error={remove.error} title="Not deleted" />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDeleting(null)}>
              Keep it
            </Button>
            <Button
              color="red"
              loading={remove.isPending}
              onClick={() => deleting && remove.mutate(deleting)}
            >
              Delete profile
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

/** a profile as its PUT body (apps repeated unchanged, as the API allows), with `patch` applied */
function replaceBodyOf(
  p: Profile,
  patch: Partial<Schemas['BillingProfileReplace']>,
): Schemas['BillingProfileReplace'] {
  return {
    name: p.name,
    ...(p.description ? { description: p.description } : {}),
    ...(p.labels ? { labels: p.labels } : {}),
    supplier: p.supplier,
    workflow: p.workflow,
    apps: p.apps,
    default: p.default,
    ...patch,
  };
}

const SUPPLIER_FIELDS = [
  ['name', 'Supplier legal name'],
  ['email', 'Supplier e-mail'],
  ['tax_id', 'Supplier tax ID'],
] as const;
const ADDRESS_FIELDS = [
  ['line1', 'Address line 1'],
  ['line2', 'Address line 2'],
  ['city', 'City'],
  ['postal_code', 'Postal code'],
  ['state', 'State'],
  ['country', 'Country (ISO code)'],
] as const;

/** the profile form's fields, as strings (empty: left out, the API's default) */
interface WorkflowFields {
  alignment: string;
  anchor: string;
  anchorInterval: string;
  interval: string;
  autoAdvance: string; // 'true' | 'false' | '' (the profile's, for a customer's overrides)
  draftPeriod: string;
  method: string;
  dueAfter: string;
}

function workflowFieldsOf(w: Workflow | undefined): WorkflowFields {
  const a = w?.collection?.alignment;
  return {
    alignment: a?.type ?? '',
    anchor: a?.type === 'anchored' ? a.recurring_period.anchor : '',
    anchorInterval: a?.type === 'anchored' ? a.recurring_period.interval : '',
    interval: w?.collection?.interval ?? '',
    autoAdvance: w?.invoicing?.auto_advance === undefined ? '' : String(w.invoicing.auto_advance),
    draftPeriod: w?.invoicing?.draft_period ?? '',
    method: w?.payment?.collection_method ?? '',
    dueAfter: w?.payment?.collection_method === 'send_invoice' ? (w.payment.due_after ?? '') : '',
  };
}

/** the workflow body from the fields: only what is set (the API takes the default, or the profile's, for the rest) */
function workflowOf(f: WorkflowFields): Workflow | undefined {
  const collection: NonNullable<Workflow['collection']> = {};
  if (f.alignment === 'subscription') collection.alignment = { type: 'subscription' };
  if (f.alignment === 'anchored') {
    const anchor = f.anchor.trim();
    const parsed = new Date(anchor);
    collection.alignment = {
      type: 'anchored',
      recurring_period: {
        // a date-time typed without a zone is read in the browser's zone, as the user sees it
        anchor: anchor && !Number.isNaN(parsed.getTime()) ? parsed.toISOString() : anchor,
        interval: f.anchorInterval.trim(),
      },
    };
  }
  if (f.interval.trim()) collection.interval = f.interval.trim();
  const invoicing: Record<string, unknown> = {};
  if (f.autoAdvance) invoicing.auto_advance = f.autoAdvance === 'true';
  if (f.draftPeriod.trim()) invoicing.draft_period = f.draftPeriod.trim();
  let payment: Workflow['payment'];
  if (f.method === 'charge_automatically') payment = { collection_method: 'charge_automatically' };
  if (f.method === 'send_invoice')
    payment = {
      collection_method: 'send_invoice',
      ...(f.dueAfter.trim() ? { due_after: f.dueAfter.trim() } : {}),
    };
  const w: Workflow = {
    ...(Object.keys(collection).length ? { collection } : {}),
    // auto_advance may be left out (a customer's override of the draft period only): the API accepts it
    ...(Object.keys(invoicing).length ? { invoicing: invoicing as NonNullable<Workflow['invoicing']> } : {}),
    ...(payment ? { payment } : {}),
  };
  return Object.keys(w).length ? w : undefined;
}

const WF = 'workflow';
const WORKFLOW_ERROR_FIELDS = [
  `${WF}`,
  `${WF}.collection`,
  `${WF}.collection.alignment`,
  `${WF}.collection.alignment.recurring_period.anchor`,
  `${WF}.collection.alignment.recurring_period.interval`,
  `${WF}.collection.interval`,
  `${WF}.invoicing.auto_advance`,
  `${WF}.invoicing.draft_period`,
  `${WF}.payment`,
  `${WF}.payment.collection_method`,
  `${WF}.payment.due_after`,
];

/** The workflow settings of a profile (`override`: a customer's overrides, where empty means the profile's). */
function WorkflowInputs({
  value: f,
  onChange,
  error,
  override,
}: {
  value: WorkflowFields;
  onChange: (patch: Partial<WorkflowFields>) => void;
  error: (field: string) => string | undefined;
  override?: boolean;
}) {
  const inherit = override ? 'the profile’s' : 'the default';
  return (
    <>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Select
          label="Collection alignment"
          placeholder={override ? 'the profile’s' : 'Subscription'}
          data={ALIGNMENTS}
          value={f.alignment || null}
          onChange={(v) => onChange({ alignment: v ?? '' })}
          clearable
          error={error(`${WF}.collection.alignment`)}
        />
        <TextInput
          label="Collection interval"
          description={`Late-usage window after a period ends, e.g. PT1H (empty: ${inherit})`}
          value={f.interval}
          onChange={(e) => onChange({ interval: e.currentTarget.value })}
          error={error(`${WF}.collection.interval`)}
        />
      </SimpleGrid>
      {f.alignment === 'anchored' && (
        <SimpleGrid cols={{ base: 1, sm: 2 }}>
          <TextInput
            label="Alignment anchor"
            description="A date-time, e.g. 2026-01-01T00:00:00Z"
            value={f.anchor}
            onChange={(e) => onChange({ anchor: e.currentTarget.value })}
            error={error(`${WF}.collection.alignment.recurring_period.anchor`)}
          />
          <TextInput
            label="Alignment interval"
            description="e.g. P1M"
            value={f.anchorInterval}
            onChange={(e) => onChange({ anchorInterval: e.currentTarget.value })}
            error={error(`${WF}.collection.alignment.recurring_period.interval`)}
          />
        </SimpleGrid>
      )}
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        {override ? (
          <Select
            label="Auto advance"
            placeholder="the profile’s"
            data={[
              { value: 'true', label: 'On: drafts are issued after the draft period' },
              { value: 'false', label: 'Off: drafts wait for approval' },
            ]}
            value={f.autoAdvance || null}
            onChange={(v) => onChange({ autoAdvance: v ?? '' })}
            clearable
            error={error(`${WF}.invoicing.auto_advance`)}
          />
        ) : (
          <Checkbox
            mt="lg"
            label="Auto advance (issue drafts after the draft period; off: drafts wait for approval)"
            checked={f.autoAdvance !== 'false'}
            onChange={(e) => onChange({ autoAdvance: String(e.currentTarget.checked) })}
            error={error(`${WF}.invoicing.auto_advance`)}
          />
        )}
        <TextInput
          label="Draft period"
          description={`How long a draft stays editable, e.g. P1D (empty: ${override ? 'the profile’s' : 'P0D'})`}
          value={f.draftPeriod}
          onChange={(e) => onChange({ draftPeriod: e.currentTarget.value })}
          error={error(`${WF}.invoicing.draft_period`)}
        />
      </SimpleGrid>
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Select
          label="Collection method"
          placeholder={override ? 'the profile’s' : 'Charge automatically'}
          data={METHODS}
          value={f.method || null}
          onChange={(v) => onChange({ method: v ?? '' })}
          clearable
          error={error(`${WF}.payment.collection_method`) ?? error(`${WF}.payment`)}
        />
        <TextInput
          label="Due after"
          description="Send invoice only, e.g. P30D (empty: P30D)"
          disabled={f.method !== 'send_invoice'}
          value={f.dueAfter}
          onChange={(e) => onChange({ dueAfter: e.currentTarget.value })}
          error={error(`${WF}.payment.due_after`)}
        />
      </SimpleGrid>
      <GroupError error={error(WF)} />
    </>
  );
}

function ProfileForm({ profile, onClose }: { profile?: Profile; onClose: () => void }) {
  const qc = useQueryClient();
  const [name, setName] = useState(profile?.name ?? '');
  const [description, setDescription] = useState(profile?.description ?? '');
  const [supplier, setSupplier] = useState<Record<string, string>>({
    name: profile?.supplier.name ?? '',
    email: profile?.supplier.email ?? '',
    tax_id: profile?.supplier.tax_id?.code ?? '',
  });
  const [address, setAddress] = useState<Record<string, string>>(
    Object.fromEntries(
      Object.entries(profile?.supplier.addresses?.billing_address ?? {}).map(([k, v]) => [
        k,
        String(v ?? ''),
      ]),
    ),
  );
  const [wf, setWf] = useState<WorkflowFields>(workflowFieldsOf(profile?.workflow));
  const [isDefault, setDefault] = useState(profile?.default ?? false);
  const [apps, setApps] = useState<Record<Role, string>>({
    invoicing: profile?.apps.invoicing.id ?? SANDBOX_APP_ID,
    payment: profile?.apps.payment.id ?? SANDBOX_APP_ID,
    tax: profile?.apps.tax.id ?? SANDBOX_APP_ID,
  });
  const save = useApiForm(
    [
      'apps',
      ...ROLES.map((r) => `apps.${r}`),
      'name',
      'description',
      'supplier',
      'supplier.name',
      'supplier.email',
      'supplier.tax_id',
      'supplier.addresses',
      ...ADDRESS_FIELDS.map(([f]) => `supplier.addresses.billing_address.${f}`),
      ...WORKFLOW_ERROR_FIELDS,
      'default',
    ],
    {
      mutationFn: () => {
        const addr = Object.fromEntries(Object.entries(address).filter(([, v]) => v.trim()));
        const body: Schemas['BillingProfileReplace'] = {
          name,
          ...(description.trim() ? { description } : {}),
          ...(profile?.labels ? { labels: profile.labels } : {}),
          supplier: {
            ...(profile?.supplier.key ? { key: profile.supplier.key } : {}),
            ...(supplier.name.trim() ? { name: supplier.name.trim() } : {}),
            ...(supplier.email.trim() ? { email: supplier.email.trim() } : {}),
            ...(supplier.tax_id.trim() ? { tax_id: { code: supplier.tax_id.trim() } } : {}),
            ...(Object.keys(addr).length ? { addresses: { billing_address: addr } } : {}),
          },
          ...(workflowOf(wf) ? { workflow: workflowOf(wf) } : {}),
          apps: profile
            ? profile.apps
            : { invoicing: { id: apps.invoicing }, payment: { id: apps.payment }, tax: { id: apps.tax } },
          default: isDefault,
        };
        return profile
          ? unwrap(api.PUT('/v3/openmeter/profiles/{id}', { params: { path: { id: profile.id } }, body }))
          : unwrap(api.POST('/v3/openmeter/profiles', { body }));
      },
      onSuccess: async () => {
        await qc.invalidateQueries({ queryKey: ['profiles'] });
        onClose();
      },
    },
  );
  const errors = save.errors;
  return (
    <Modal
      opened
      onClose={onClose}
      title={profile ? `Edit billing profile ${profile.name}` : 'Create billing profile'}
      size="xl"
    >
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TextInput
              label="Name"
              required
              data-autofocus
              value={name}
              onChange={(e) => setName(e.currentTarget.value)}
              error={errors.field('name')}
            />
            <TextInput
              label="Description"
              value={description}
              onChange={(e) => setDescription(e.currentTarget.value)}
              error={errors.field('description')}
            />
          </SimpleGrid>
          <Text size="sm" fw={500}>
            Supplier (printed on every invoice)
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            {SUPPLIER_FIELDS.map(([f, label]) => (
              <TextInput
                key={f}
                label={label}
                value={supplier[f]}
                onChange={(e) => {
                  const v = e.currentTarget.value;
                  setSupplier((s) => ({ ...s, [f]: v }));
                }}
                error={errors.field(`supplier.${f}`)}
              />
            ))}
          </SimpleGrid>
          <SimpleGrid cols={{ base: 1, sm: 3 }}>
            {ADDRESS_FIELDS.map(([f, label]) => (
              <TextInput
                key={f}
                label={`Supplier ${label.charAt(0).toLowerCase()}${label.slice(1)}`}
                value={address[f] ?? ''}
                onChange={(e) => {
                  const v = e.currentTarget.value;
                  setAddress((a) => ({ ...a, [f]: v }));
                }}
                error={errors.field(`supplier.addresses.billing_address.${f}`)}
              />
            ))}
          </SimpleGrid>
          <GroupError error={errors.field('supplier') ?? errors.field('supplier.addresses')} />
          <Text size="sm" fw={500}>
            Invoicing workflow
          </Text>
          <WorkflowInputs value={wf} onChange={(p) => setWf((w) => ({ ...w, ...p }))} error={errors.field} />
          <AppInputs
            value={apps}
            onChange={(r, id) => setApps((a) => ({ ...a, [r]: id }))}
            error={errors.field}
            fixed={!!profile}
          />
          <Checkbox
            label="Default profile (customers without a profile of their own use it)"
            checked={isDefault}
            disabled={profile?.default}
            onChange={(e) => setDefault(e.currentTarget.checked)}
            error={errors.field('default')}
          />
          <FormFooter error={errors.other} onCancel={onClose} submit="Save profile" busy={save.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

/** A customer's billing settings: its profile (or the default) and its overrides of the profile's workflow. */
export function CustomerBillingCard({ customerId }: { customerId: string }) {
  const qc = useQueryClient();
  const profiles = useProfiles();
  const billing = useQuery({
    queryKey: ['customer-billing', customerId],
    queryFn: () =>
      unwrap(api.GET('/v3/openmeter/customers/{customerId}/billing', { params: { path: { customerId } } })),
  });
  const [editing, setEditing] = useState(false);
  const profileName = (id: string | undefined) => {
    if (!id) {
      const d = profiles.data?.data.find((p) => p.default);
      return `the default profile${d ? ` (now ${d.name})` : ''}`;
    }
    return profiles.data?.data.find((p) => p.id === id)?.name ?? id;
  };
  const w = billing.data?.workflow;
  const overrides = w
    ? [
        w.collection?.alignment && `alignment ${w.collection.alignment.type}`,
        w.collection?.interval && `collection interval ${w.collection.interval}`,
        w.invoicing?.auto_advance !== undefined &&
          (w.invoicing.auto_advance ? 'auto-advance' : 'manual approval'),
        w.invoicing?.draft_period && `draft period ${w.invoicing.draft_period}`,
        w.payment && paymentText(w),
      ].filter(Boolean)
    : [];
  return (
    <Card withBorder aria-label="Billing settings">
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h5">
          Billing settings
        </Title>
        <Button size="xs" variant="default" disabled={!billing.data} onClick={() => setEditing(true)}>
          Edit billing settings
        </Button>
      </Group>
      {billing.isPending && <Loading what="billing settings" />}
      <ErrorMessage error={billing.error} />
      {billing.data && (
        <Stack gap={4}>
          <Text size="sm">Billing profile: {profileName(billing.data.billing_profile?.id)}</Text>
          <Text size="sm">Overrides: {overrides.length ? overrides.join(', ') : 'none'}</Text>
        </Stack>
      )}
      {editing && billing.data && (
        <CustomerBillingForm
          customerId={customerId}
          current={billing.data}
          profiles={profiles.data?.data ?? []}
          onClose={() => setEditing(false)}
          onSaved={() => qc.invalidateQueries({ queryKey: ['customer-billing', customerId] })}
        />
      )}
    </Card>
  );
}

function CustomerBillingForm({
  customerId,
  current,
  profiles,
  onClose,
  onSaved,
}: {
  customerId: string;
  current: Schemas['BillingCustomerData'];
  profiles: Profile[];
  onClose: () => void;
  onSaved: () => Promise<void>;
}) {
  const [profileId, setProfileId] = useState<string>(current.billing_profile?.id ?? '');
  const [wf, setWf] = useState<WorkflowFields>(workflowFieldsOf(current.workflow));
  const save = useApiForm(['billing_profile', 'billing_profile.id', ...WORKFLOW_ERROR_FIELDS], {
    mutationFn: () =>
      unwrap(
        api.PUT('/v3/openmeter/customers/{customerId}/billing', {
          params: { path: { customerId } },
          body: {
            billing_profile: profileId ? { id: profileId } : null,
            workflow: workflowOf(wf) ?? null,
          },
        }),
      ),
    onSuccess: async () => {
      await onSaved();
      onClose();
    },
  });
  const errors = save.errors;
  return (
    <Modal opened onClose={onClose} title="Billing settings" size="xl">
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <Select
            label="Billing profile"
            data={[
              { value: '', label: 'The default profile' },
              ...profiles.map((p) => ({ value: p.id, label: p.default ? `${p.name} (default)` : p.name })),
            ]}
            value={profileId}
            onChange={(v) => setProfileId(v ?? '')}
            allowDeselect={false}
            error={errors.field('billing_profile.id') ?? errors.field('billing_profile')}
          />
          <Text size="sm" fw={500}>
            Overrides of the profile&apos;s workflow (empty: the profile&apos;s setting)
          </Text>
          <WorkflowInputs
            value={wf}
            onChange={(p) => setWf((w) => ({ ...w, ...p }))}
            error={errors.field}
            override
          />
          <FormFooter
            error={errors.other}
            onCancel={onClose}
            submit="Save billing settings"
            busy={save.isPending}
          />
        </Stack>
      </form>
    </Modal>
  );
}
