import {
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Modal,
  Radio,
  Select,
  SimpleGrid,
  Stack,
  Stepper,
  Table,
  Tabs,
  Text,
  TextInput,
  Timeline,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, unwrap, type Schemas } from '../api/client';
import { InvoicingTab } from './Invoices';
import { CustomerStripeCard } from './Apps';
import { CustomerBillingCard } from './Profiles';
import { cadenceLabel, when, workflowUrl } from '../lib/format';
import { customerKey } from '../lib/keys';
import { ErrorMessage, FormFooter, GroupError, Loading, PagedTable, useApiForm } from '../lib/ui';

type Customer = Schemas['BillingCustomer'];
type Subscription = Schemas['Subscription'];

export function CustomersPage() {
  const [creating, setCreating] = useState(false);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Billing</Title>
        <Button onClick={() => setCreating(true)}>Create Customer</Button>
      </Group>
      <Title order={3} size="h4">
        Customers
      </Title>
      <PagedTable
        queryKey={['customers']}
        fetchPage={(p) =>
          unwrap(
            api.GET('/v3/openmeter/customers', {
              params: { query: { 'page[size]': p.size, 'page[number]': p.number } },
            }),
          )
        }
        label="Customers"
        what="customers"
        empty="No customers yet."
        minWidth={500}
        highlightOnHover
        rowKey={(c) => c.id}
        columns={[
          {
            header: 'Name',
            cell: (c) => (
              <Anchor component={Link} to={`/billing/customers/${c.id}/overview`}>
                {c.name}
              </Anchor>
            ),
          },
          { header: 'Key', cell: (c) => <Code>{c.key}</Code> },
          { header: 'Subjects', cell: (c) => c.usage_attribution.subject_keys.join(', ') || '—' },
          { header: 'Currency', cell: (c) => c.currency ?? '—' },
          { header: 'Created', cell: (c) => when(c.created_at) },
        ]}
      />
      <CreateCustomer opened={creating} onClose={() => setCreating(false)} />
    </Stack>
  );
}

const ADDRESS_FIELDS = [
  ['line1', 'Address line 1'],
  ['line2', 'Address line 2'],
  ['city', 'City'],
  ['postal_code', 'Postal code'],
  ['state', 'State'],
  ['country', 'Country (ISO code)'],
] as const;

function CreateCustomer({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [key, setKey] = useState<string | null>(null);
  const [subjects, setSubjects] = useState('');
  const [email, setEmail] = useState('');
  const [currency, setCurrency] = useState('');
  const [address, setAddress] = useState<Record<string, string>>({});
  const shownKey = key ?? customerKey(name);
  const create = useApiForm(
    [
      'name',
      'key',
      'usage_attribution',
      'primary_email',
      'currency',
      'billing_address',
      ...ADDRESS_FIELDS.map(([f]) => `billing_address.${f}`),
    ],
    {
      mutationFn: () => {
        const subjectKeys = subjects
          .split(',')
          .map((s) => s.trim())
          .filter(Boolean);
        const addr = Object.fromEntries(Object.entries(address).filter(([, v]) => v.trim()));
        return unwrap(
          api.POST('/v3/openmeter/customers', {
            body: {
              name,
              key: shownKey,
              ...(subjectKeys.length ? { usage_attribution: { subject_keys: subjectKeys } } : {}),
              ...(email ? { primary_email: email } : {}),
              ...(currency ? { currency: currency.trim().toUpperCase() } : {}),
              ...(Object.keys(addr).length ? { billing_address: addr } : {}),
            },
          }),
        );
      },
      onSuccess: async (c) => {
        await qc.invalidateQueries({ queryKey: ['customers'] });
        onClose();
        void navigate(`/billing/customers/${c.id}/overview`);
      },
    },
  );
  const errors = create.errors;
  return (
    <Modal opened={opened} onClose={onClose} title="Create Customer" size="lg">
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          create.mutate();
        }}
      >
        <Stack>
          <TextInput
            label="Name"
            required
            data-autofocus
            value={name}
            onChange={(e) => setName(e.currentTarget.value)}
            error={errors.field('name')}
          />
          <TextInput
            label="Key"
            description="Links usage events to this customer: events whose subject is the key are theirs. Derived from the name unless you change it."
            value={shownKey}
            onChange={(e) => setKey(e.currentTarget.value)}
            error={errors.field('key')}
          />
          <TextInput
            label="Subject keys"
            description="Other event subjects that belong to this customer, comma-separated (optional)"
            value={subjects}
            onChange={(e) => setSubjects(e.currentTarget.value)}
            error={errors.field('usage_attribution')}
          />
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            <TextInput
              label="E-mail"
              type="email"
              value={email}
              onChange={(e) => setEmail(e.currentTarget.value)}
              error={errors.field('primary_email')}
            />
            <TextInput
              label="Currency"
              placeholder="USD"
              value={currency}
              onChange={(e) => setCurrency(e.currentTarget.value)}
              error={errors.field('currency')}
            />
          </SimpleGrid>
          <Text size="sm" fw={500}>
            Billing address
          </Text>
          <SimpleGrid cols={{ base: 1, sm: 2 }}>
            {ADDRESS_FIELDS.map(([f, label]) => (
              <TextInput
                key={f}
                label={label}
                value={address[f] ?? ''}
                onChange={(e) => {
                  const v = e.currentTarget.value;
                  setAddress((a) => ({ ...a, [f]: v }));
                }}
                error={errors.field(`billing_address.${f}`)}
              />
            ))}
          </SimpleGrid>
          <GroupError error={errors.field('billing_address')} />
          <FormFooter error={errors.other} onCancel={onClose} submit="Save" busy={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

export function CustomerPage() {
  const { customerId = '', tab = 'overview' } = useParams();
  const navigate = useNavigate();
  const customer = useQuery({
    queryKey: ['customer', customerId],
    queryFn: () =>
      unwrap(api.GET('/v3/openmeter/customers/{customerId}', { params: { path: { customerId } } })),
  });
  if (customer.isPending) return <Loading what="the customer" />;
  if (customer.error) return <ErrorMessage error={customer.error} />;
  const c = customer.data;
  return (
    <Stack>
      <Anchor component={Link} to="/billing" size="sm">
        ← Customers
      </Anchor>
      <Group>
        <Title order={2}>{c.name}</Title>
        <Code>{c.key}</Code>
      </Group>
      <Tabs
        value={tab}
        onChange={(t) => void navigate(`/billing/customers/${c.id}/${t ?? 'overview'}`)}
        keepMounted={false}
      >
        <Tabs.List>
          <Tabs.Tab value="overview">Overview</Tabs.Tab>
          <Tabs.Tab value="subscription">Subscription</Tabs.Tab>
          <Tabs.Tab value="entitlements">Entitlements</Tabs.Tab>
          <Tabs.Tab value="invoicing">Invoicing</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="overview" pt="md">
          <Overview customer={c} />
        </Tabs.Panel>
        <Tabs.Panel value="subscription" pt="md">
          <SubscriptionTab customer={c} />
        </Tabs.Panel>
        <Tabs.Panel value="entitlements" pt="md">
          <EntitlementsTab customer={c} />
        </Tabs.Panel>
        <Tabs.Panel value="invoicing" pt="md">
          <InvoicingTab customer={c} />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function Item({ label, children }: { label: string; children: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text component="div">{children}</Text>
    </div>
  );
}

function Overview({ customer: c }: { customer: Customer }) {
  const addr = c.billing_address ?? {};
  return (
    <Stack>
      <SimpleGrid cols={{ base: 1, sm: 3 }}>
        <Item label="Key">
          <Code>{c.key}</Code>
        </Item>
        <Item label="Subject keys">{c.usage_attribution.subject_keys.join(', ') || '—'}</Item>
        <Item label="E-mail">{c.primary_email ?? '—'}</Item>
        <Item label="Currency">{c.currency ?? '—'}</Item>
        <Item label="Billing address">
          {[
            addr.line1,
            addr.line2,
            [addr.postal_code, addr.city].filter(Boolean).join(' '),
            addr.state,
            addr.country,
          ]
            .filter(Boolean)
            .join(', ') || '—'}
        </Item>
        <Item label="Created">{when(c.created_at)}</Item>
        <Item label="ID">
          <Code>{c.id}</Code>
        </Item>
      </SimpleGrid>
      <CustomerBillingCard customerId={c.id} />
      <CustomerStripeCard customerId={c.id} />
    </Stack>
  );
}

function useActivePlans() {
  return useQuery({
    queryKey: ['plans', 'active'],
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/plans', {
          params: { query: { 'filter[status]': 'active', 'page[size]': 1000 } },
        }),
      ),
  });
}

/** OpenMeter's subscription statuses: `canceled` runs until its `active_to`, `inactive` has ended */
const SUBSCRIPTION_STATUS_COLOR: Record<Subscription['status'], string> = {
  scheduled: 'blue',
  active: 'green',
  canceled: 'orange',
  inactive: 'gray',
};

function SubscriptionTab({ customer }: { customer: Customer }) {
  const [creating, setCreating] = useState(false);
  const subs = useQuery({
    queryKey: ['subscriptions', customer.id],
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/subscriptions', {
          params: { query: { 'filter[customer_id]': customer.id, 'page[size]': 100 } },
        }),
      ),
  });
  if (subs.isPending) return <Loading what="subscriptions" />;
  if (subs.error) return <ErrorMessage error={subs.error} />;
  // OpenMeter's statuses: `inactive` has ended; `canceled` still runs until its `active_to`
  const active = subs.data.data.filter((s) => s.status !== 'inactive');
  const ended = subs.data.data.filter((s) => s.status === 'inactive');
  return (
    <Stack>
      {active.length === 0 && (
        <Group justify="space-between">
          <Text c="dimmed">{customer.name} has no active subscription.</Text>
          <Button onClick={() => setCreating(true)}>Create a Subscription</Button>
        </Group>
      )}
      {active.map((s) => (
        <SubscriptionCard key={s.id} sub={s} />
      ))}
      {ended.length > 0 && (
        <Card withBorder>
          <Title order={3} size="h5" mb="xs">
            Earlier subscriptions
          </Title>
          <Table>
            <Table.Tbody>
              {ended.map((s) => (
                <Table.Tr key={s.id}>
                  <Table.Td>{s.name}</Table.Td>
                  <Table.Td>
                    {(s.plan ?? s.plan_version).key} v{(s.plan ?? s.plan_version).version}
                  </Table.Td>
                  <Table.Td>
                    {when(s.active_from)} – {when(s.active_to)}
                  </Table.Td>
                  <Table.Td>
                    <Anchor href={workflowUrl(s.id)} target="_blank" rel="noreferrer">
                      Workflow
                    </Anchor>
                  </Table.Td>
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Card>
      )}
      {creating && <CreateSubscription customer={customer} onClose={() => setCreating(false)} />}
    </Stack>
  );
}

function CreateSubscription({ customer, onClose }: { customer: Customer; onClose: () => void }) {
  const qc = useQueryClient();
  const plans = useActivePlans();
  const [step, setStep] = useState(0);
  const [planId, setPlanId] = useState<string | null>(null);
  const [anchor, setAnchor] = useState('');
  const plan = plans.data?.data.find((p) => p.id === planId);
  const start = useApiForm(['plan', 'billing_anchor', 'customer'], {
    mutationFn: () =>
      unwrap(
        api.POST('/v3/openmeter/subscriptions', {
          body: {
            customer: { id: customer.id },
            plan: { id: planId ?? '' },
            ...(anchor ? { billing_anchor: new Date(anchor).toISOString() } : {}),
          },
        }),
      ),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['subscriptions', customer.id] });
      onClose();
    },
  });
  const errors = start.errors;
  return (
    <Modal opened onClose={onClose} title="Create a Subscription" size="lg">
      <Stepper active={step} onStepClick={setStep} size="sm" mb="md">
        <Stepper.Step label="Plan" />
        <Stepper.Step label="Start" />
      </Stepper>
      <Stack>
        {step === 0 && (
          <Select
            label="Subscribed Plan"
            placeholder={plans.isPending ? 'Loading plans…' : 'Choose a published plan'}
            data={(plans.data?.data ?? []).map((p) => ({ value: p.id, label: p.name }))}
            value={planId}
            onChange={setPlanId}
            searchable
            error={errors.field('plan')}
            nothingFoundMessage="No published plan: publish one in the Product Catalog"
          />
        )}
        {step === 1 && plan && (
          <>
            <Text size="sm">
              {customer.name} subscribes to <b>{plan.name}</b> (version {plan.version}), billed every{' '}
              {cadenceLabel(plan.billing_cadence)} in {plan.currency}, starting now.
            </Text>
            <Table>
              <Table.Tbody>
                {plan.phases.flatMap((ph) =>
                  ph.rate_cards.map((rc) => (
                    <Table.Tr key={`${ph.key}/${rc.key}`}>
                      <Table.Td>{rc.name}</Table.Td>
                      <Table.Td>{rc.price.type}</Table.Td>
                    </Table.Tr>
                  )),
                )}
              </Table.Tbody>
            </Table>
            <TextInput
              label="Billing anchor"
              description="Optional: the instant billing periods are aligned to (default: the start)"
              type="datetime-local"
              value={anchor}
              onChange={(e) => setAnchor(e.currentTarget.value)}
              error={errors.field('billing_anchor')}
            />
          </>
        )}
        <ErrorMessage error={errors.other} />
        <Group justify="space-between">
          <Button variant="default" onClick={step === 0 ? onClose : () => setStep(0)}>
            {step === 0 ? 'Cancel' : 'Back'}
          </Button>
          {step === 0 ? (
            <Button disabled={!plan} onClick={() => setStep(1)}>
              Next Step
            </Button>
          ) : (
            <Button loading={start.isPending} onClick={() => start.mutate()}>
              Start Subscription
            </Button>
          )}
        </Group>
      </Stack>
    </Modal>
  );
}

type Timing = 'immediate' | 'next_billing_cycle' | 'at';

function TimingInput({
  value,
  at,
  onChange,
  onAt,
  error,
}: {
  value: Timing;
  at: string;
  onChange: (t: Timing) => void;
  onAt: (s: string) => void;
  error?: string;
}) {
  return (
    <Stack gap="xs">
      <Radio.Group label="Timing" value={value} onChange={(v) => onChange(v)} error={error}>
        <Stack gap={6} mt={4}>
          <Radio value="immediate" label="Immediately" />
          <Radio value="next_billing_cycle" label="At the next billing cycle" />
          <Radio value="at" label="At a date" />
        </Stack>
      </Radio.Group>
      {value === 'at' && (
        <TextInput
          label="Date"
          type="datetime-local"
          required
          value={at}
          onChange={(e) => onAt(e.currentTarget.value)}
        />
      )}
    </Stack>
  );
}

const timingValue = (t: Timing, at: string) => (t === 'at' ? new Date(at).toISOString() : t);

function SubscriptionCard({ sub }: { sub: Subscription }) {
  const qc = useQueryClient();
  const [dialog, setDialog] = useState<'change' | 'migrate' | 'cancel' | null>(null);
  const [timing, setTiming] = useState<Timing>('immediate');
  const [at, setAt] = useState('');
  const [planId, setPlanId] = useState<string | null>(null);
  const [version, setVersion] = useState<string | null>(null);
  const plans = useActivePlans();
  // a custom plan has no catalog plan: its own version names it
  const planRef = sub.plan ?? sub.plan_version;
  const plan = useQuery({
    queryKey: ['plan', sub.plan?.id],
    enabled: !!sub.plan?.id,
    queryFn: () =>
      unwrap(api.GET('/v3/openmeter/plans/{planId}', { params: { path: { planId: sub.plan!.id! } } })),
  });
  const versions = useQuery({
    queryKey: ['plans', 'versions', planRef.key],
    enabled: dialog === 'migrate',
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/plans', {
          params: { query: { 'filter[key]': planRef.key, 'page[size]': 100 } },
        }),
      ),
  });
  const act = useApiForm(['plan', 'timing', 'target_version'], {
    mutationFn: () => {
      const path = { subscriptionId: sub.id };
      const t = timingValue(timing, at);
      if (dialog === 'change')
        return unwrap(
          api.POST('/v3/openmeter/subscriptions/{subscriptionId}/change', {
            params: { path },
            body: { plan: { id: planId ?? '' }, timing: t },
          }),
        );
      if (dialog === 'migrate')
        return unwrap(
          api.POST('/v3/openmeter/subscriptions/{subscriptionId}/migrate', {
            params: { path },
            body: { timing: t, ...(version ? { target_version: Number(version) } : {}) },
          }),
        );
      return unwrap(
        api.POST('/v3/openmeter/subscriptions/{subscriptionId}/cancel', {
          params: { path },
          body: { timing: t },
        }),
      );
    },
    onSuccess: async () => {
      setDialog(null);
      await qc.invalidateQueries({ queryKey: ['subscriptions'] });
    },
  });
  const errors = act.errors;
  const open = (d: 'change' | 'migrate' | 'cancel') => {
    errors.clear();
    setTiming(d === 'cancel' ? 'next_billing_cycle' : 'immediate');
    setPlanId(null);
    setVersion(null);
    setDialog(d);
  };
  const currentPhase = plan.data?.phases.find((ph) => ph.key === sub.phase.key);
  return (
    <Card withBorder>
      <Stack>
        <Group justify="space-between" wrap="wrap">
          <Group>
            <Title order={3} size="h4">
              {sub.name}
            </Title>
            <Badge color={SUBSCRIPTION_STATUS_COLOR[sub.status]}>
              {sub.status === 'canceled' && sub.active_to
                ? `canceled, ends ${when(sub.active_to)}`
                : sub.status}
            </Badge>
            {sub.invoice_failure && <Badge color="red">invoicing failing</Badge>}
          </Group>
          <Group gap="xs">
            <Button variant="default" size="xs" onClick={() => open('change')}>
              Change plan
            </Button>
            <Button variant="default" size="xs" onClick={() => open('migrate')}>
              Migrate version
            </Button>
            <Button variant="default" color="red" size="xs" onClick={() => open('cancel')}>
              Cancel subscription
            </Button>
            <Button
              component="a"
              href={workflowUrl(sub.id)}
              target="_blank"
              rel="noreferrer"
              variant="subtle"
              size="xs"
            >
              Workflow in Temporal UI
            </Button>
          </Group>
        </Group>
        <SimpleGrid cols={{ base: 1, sm: 4 }}>
          <Item label="Plan">
            {sub.plan ? (
              <Anchor component={Link} to={`/catalog/plans/${sub.plan.id}`}>
                {plan.data?.name ?? planRef.key} (version {planRef.version})
                {sub.plan_version.custom ? ', customized' : ''}
              </Anchor>
            ) : (
              <>{sub.name} (custom plan)</>
            )}
          </Item>
          <Item label="Billing">
            every {cadenceLabel(sub.billing_cadence)} in {sub.invoice_currency}
          </Item>
          <Item label="Current period">
            {when(sub.current_period?.from)} – {when(sub.current_period?.to)}
          </Item>
          <Item label="Next billing">{when(sub.next_billing_at)}</Item>
        </SimpleGrid>
        {sub.invoice_failure && (
          <Text c="red" size="sm">
            Invoice {sub.invoice_failure.invoice_key} failing since {when(sub.invoice_failure.failing_since)}{' '}
            ({sub.invoice_failure.attempts} attempts): {sub.invoice_failure.last_error}. Next attempt{' '}
            {when(sub.invoice_failure.next_attempt_at)}.
          </Text>
        )}
        <Timeline
          active={sub.pending_changes.length ? 1 : 0}
          bulletSize={14}
          lineWidth={2}
          aria-label="Timeline"
        >
          <Timeline.Item title={`Started ${when(sub.active_from)}`}>
            <Text size="sm" c="dimmed">
              phase {sub.phase.key} since {when(sub.phase.active_from)}
              {currentPhase
                ? `: ${currentPhase.rate_cards.map((rc) => rc.name).join(', ') || 'no items'}`
                : ''}
            </Text>
          </Timeline.Item>
          {sub.pending_changes.map((pc, i) => (
            <Timeline.Item key={i} title={`Pending ${pc.type}`}>
              <Text size="sm" c="dimmed">
                {pc.timing === 'next_billing_cycle' ? 'at the next billing cycle' : when(pc.timing)}
                {pc.plan ? ` → ${pc.plan.key} version ${pc.plan.version}` : ''}
              </Text>
            </Timeline.Item>
          ))}
          {sub.active_to && <Timeline.Item title={`Ends ${when(sub.active_to)}`} />}
        </Timeline>
      </Stack>
      <Modal
        opened={dialog !== null}
        onClose={() => setDialog(null)}
        title={
          dialog === 'change'
            ? 'Change plan'
            : dialog === 'migrate'
              ? 'Migrate to another version'
              : 'Cancel subscription'
        }
      >
        <Stack>
          {dialog === 'change' && (
            <Select
              label="New plan"
              data={(plans.data?.data ?? [])
                .filter((p) => p.key !== planRef.key)
                .map((p) => ({ value: p.id, label: p.name }))}
              value={planId}
              onChange={setPlanId}
              error={errors.field('plan')}
            />
          )}
          {dialog === 'migrate' && (
            <Select
              label="Target version"
              placeholder="the latest published version"
              clearable
              data={(versions.data?.data ?? [])
                .filter((v) => v.status !== 'draft' && v.version !== planRef.version)
                .map((v) => ({ value: String(v.version), label: `version ${v.version} (${v.status})` }))}
              value={version}
              onChange={setVersion}
              error={errors.field('target_version')}
            />
          )}
          <TimingInput
            value={timing}
            at={at}
            onChange={setTiming}
            onAt={setAt}
            error={errors.field('timing')}
          />
          <ErrorMessage error={errors.other} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDialog(null)}>
              Back
            </Button>
            <Button
              color={dialog === 'cancel' ? 'red' : undefined}
              loading={act.isPending}
              disabled={dialog === 'change' && !planId}
              onClick={() => act.mutate()}
            >
              {dialog === 'change' ? 'Change plan' : dialog === 'migrate' ? 'Migrate' : 'Cancel subscription'}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

function EntitlementsTab({ customer }: { customer: Customer }) {
  const access = useQuery({
    queryKey: ['entitlement-access', customer.id],
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/customers/{customerId}/entitlement-access', {
          params: { path: { customerId: customer.id } },
        }),
      ),
  });
  if (access.isPending) return <Loading what="entitlements" />;
  if (access.error) return <ErrorMessage error={access.error} />;
  if (access.data.data.length === 0)
    return <Text c="dimmed">No entitlements: {customer.name} has no plan that grants any.</Text>;
  return (
    <Table.ScrollContainer minWidth={600}>
      <Table striped aria-label="Entitlements">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Feature</Table.Th>
            <Table.Th>Type</Table.Th>
            <Table.Th>Access</Table.Th>
            <Table.Th>Usage / limit</Table.Th>
            <Table.Th>Balance</Table.Th>
            <Table.Th>Period</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {access.data.data.map((a) => (
            <Table.Tr key={a.feature_key}>
              <Table.Td>{a.feature_key}</Table.Td>
              <Table.Td>{a.type}</Table.Td>
              <Table.Td>
                <Badge color={a.has_access ? 'green' : 'red'}>
                  {a.has_access ? 'has access' : 'no access'}
                </Badge>
              </Table.Td>
              <Table.Td>
                {a.type === 'metered' ? (
                  `${a.usage ?? '0'} / ${a.limit ?? '∞'}${a.is_soft_limit ? ' (soft)' : ''}`
                ) : a.type === 'static' ? (
                  <Code>{a.config}</Code>
                ) : (
                  '—'
                )}
              </Table.Td>
              <Table.Td>{a.balance ?? '—'}</Table.Td>
              <Table.Td>
                {a.current_usage_period
                  ? `${when(a.current_usage_period.from)} – ${when(a.current_usage_period.to)}`
                  : '—'}
              </Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}
