import {
  ActionIcon,
  Anchor,
  Badge,
  Button,
  Card,
  Checkbox,
  Code,
  Group,
  Modal,
  NumberInput,
  Radio,
  Select,
  Stack,
  Stepper,
  Table,
  Tabs,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, unwrap, type Schemas } from '../api/client';
import { CADENCES, cadenceLabel, when } from '../lib/format';
import { catalogKey } from '../lib/keys';
import {
  ErrorMessage,
  FormFooter,
  GroupError,
  Loading,
  PagedTable,
  useApiForm,
  useFormErrors,
} from '../lib/ui';

type Plan = Schemas['BillingPlan'];
type RateCard = Schemas['RateCard'];
type Price = Schemas['Price'];
type Tier = Schemas['PriceTier'];

export function CatalogPage() {
  const { tab = 'features' } = useParams();
  const navigate = useNavigate();
  return (
    <Stack>
      <Title order={2}>Product Catalog</Title>
      <Tabs value={tab} onChange={(t) => void navigate(`/catalog/${t ?? 'features'}`)} keepMounted={false}>
        <Tabs.List>
          <Tabs.Tab value="features">Features</Tabs.Tab>
          <Tabs.Tab value="plans">Plans</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="features" pt="md">
          <FeaturesTab />
        </Tabs.Panel>
        <Tabs.Panel value="plans" pt="md">
          <PlansTab />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function useMeters() {
  return useQuery({
    queryKey: ['meters', 'all'],
    queryFn: () => unwrap(api.GET('/v3/openmeter/meters', { params: { query: { 'page[size]': 1000 } } })),
  });
}

function useFeatures() {
  return useQuery({
    queryKey: ['features', 'all'],
    queryFn: () => unwrap(api.GET('/v3/openmeter/features', { params: { query: { 'page[size]': 1000 } } })),
  });
}

function FeaturesTab() {
  const [creating, setCreating] = useState(false);
  const meters = useMeters();
  const meterName = (id?: string) => meters.data?.data.find((m) => m.id === id)?.name ?? id ?? '—';
  return (
    <Stack>
      <Group justify="space-between">
        <Text c="dimmed" size="sm">
          Features make a meter&apos;s usage billable and can carry entitlements.
        </Text>
        <Button onClick={() => setCreating(true)}>Create Feature</Button>
      </Group>
      <PagedTable
        queryKey={['features']}
        fetchPage={(p) =>
          unwrap(
            api.GET('/v3/openmeter/features', {
              params: { query: { 'page[size]': p.size, 'page[number]': p.number } },
            }),
          )
        }
        label="Features"
        what="features"
        empty="No features yet."
        minWidth={500}
        rowKey={(f) => f.id}
        columns={[
          { header: 'Name', cell: (f) => f.name },
          { header: 'Key', cell: (f) => <Code>{f.key}</Code> },
          { header: 'Meter', cell: (f) => (f.meter ? meterName(f.meter.id) : '—') },
          {
            header: 'Filters',
            cell: (f) =>
              Object.entries(f.meter?.filters ?? {})
                .map(([k, v]) => `${k} = ${v.eq ?? v.in?.join(' | ')}`)
                .join(', ') || '—',
          },
        ]}
      />
      <CreateFeature opened={creating} onClose={() => setCreating(false)} />
    </Stack>
  );
}

function CreateFeature({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const meters = useMeters();
  const [name, setName] = useState('');
  const [key, setKey] = useState<string | null>(null);
  const [meterId, setMeterId] = useState<string | null>(null);
  const [filters, setFilters] = useState<{ dim: string; value: string }[]>([]);
  const meter = meters.data?.data.find((m) => m.id === meterId);
  const shownKey = key ?? catalogKey(name);
  const create = useApiForm(['name', 'key', 'meter.id', 'meter.filters', 'meter'], {
    mutationFn: () =>
      unwrap(
        api.POST('/v3/openmeter/features', {
          body: {
            name,
            key: shownKey,
            ...(meterId
              ? {
                  meter: {
                    id: meterId,
                    ...(filters.length
                      ? {
                          filters: Object.fromEntries(
                            filters.filter((f) => f.dim).map((f) => [f.dim, { eq: f.value }]),
                          ),
                        }
                      : {}),
                  },
                }
              : {}),
          },
        }),
      ),
    onSuccess: async () => {
      await qc.invalidateQueries({ queryKey: ['features'] });
      setName('');
      setKey(null);
      setMeterId(null);
      setFilters([]);
      onClose();
    },
  });
  const errors = create.errors;
  const dims = Object.keys(meter?.dimensions ?? {});
  return (
    <Modal opened={opened} onClose={onClose} title="Create Feature" size="lg">
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
            description="Derived from the name unless you change it."
            value={shownKey}
            onChange={(e) => setKey(e.currentTarget.value)}
            error={errors.field('key')}
          />
          <Select
            label="Meter"
            placeholder={meters.isPending ? 'Loading meters…' : 'No meter (a static feature)'}
            clearable
            data={(meters.data?.data ?? []).map((m) => ({ value: m.id, label: m.name }))}
            value={meterId}
            onChange={setMeterId}
            error={errors.field('meter.id') ?? errors.field('meter')}
          />
          {meterId && (
            <Stack gap={4}>
              <Text size="sm" fw={500}>
                Filters
              </Text>
              {filters.map((f, i) => (
                <Group key={i} gap="xs">
                  <Select
                    aria-label={`Filter ${i + 1} dimension`}
                    placeholder="dimension"
                    data={dims}
                    value={f.dim || null}
                    onChange={(v) =>
                      setFilters((fs) => fs.map((x, j) => (j === i ? { ...x, dim: v ?? '' } : x)))
                    }
                  />
                  <TextInput
                    aria-label={`Filter ${i + 1} value`}
                    placeholder="equals"
                    value={f.value}
                    onChange={(e) => {
                      const v = e.currentTarget.value;
                      setFilters((fs) => fs.map((x, j) => (j === i ? { ...x, value: v } : x)));
                    }}
                  />
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    aria-label={`Remove filter ${i + 1}`}
                    onClick={() => setFilters((fs) => fs.filter((_, j) => j !== i))}
                  >
                    ×
                  </ActionIcon>
                </Group>
              ))}
              <GroupError error={errors.field('meter.filters')} />
              <Button
                variant="light"
                size="xs"
                w="fit-content"
                disabled={dims.length === 0}
                title={dims.length === 0 ? 'This meter has no dimensions' : undefined}
                onClick={() => setFilters((fs) => [...fs, { dim: '', value: '' }])}
              >
                Add filter
              </Button>
            </Stack>
          )}
          <FormFooter error={errors.other} onCancel={onClose} submit="Save" busy={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

const STATUS_COLOR: Record<string, string> = { draft: 'gray', active: 'green', archived: 'dark' };

function PlansTab() {
  const [creating, setCreating] = useState(false);
  return (
    <Stack>
      <Group justify="space-between">
        <Text c="dimmed" size="sm">
          A plan is a set of rate cards: the price of each feature, and its entitlement.
        </Text>
        <Button onClick={() => setCreating(true)}>Create Plan</Button>
      </Group>
      <PagedTable
        queryKey={['plans']}
        fetchPage={(p) =>
          unwrap(
            api.GET('/v3/openmeter/plans', {
              params: { query: { 'page[size]': p.size, 'page[number]': p.number } },
            }),
          )
        }
        label="Plans"
        what="plans"
        empty="No plans yet."
        highlightOnHover
        rowKey={(p) => p.id}
        columns={[
          {
            header: 'Name',
            cell: (p) => (
              <Anchor component={Link} to={`/catalog/plans/${p.id}`}>
                {p.name}
              </Anchor>
            ),
          },
          { header: 'Key', cell: (p) => <Code>{p.key}</Code> },
          { header: 'Version', cell: (p) => p.version },
          { header: 'Status', cell: (p) => <Badge color={STATUS_COLOR[p.status]}>{p.status}</Badge> },
          { header: 'Billing cadence', cell: (p) => cadenceLabel(p.billing_cadence) },
          { header: 'Currency', cell: (p) => p.currency },
        ]}
      />
      <CreatePlan opened={creating} onClose={() => setCreating(false)} />
    </Stack>
  );
}

function CreatePlan({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [key, setKey] = useState<string | null>(null);
  const [description, setDescription] = useState('');
  const [currency, setCurrency] = useState('USD');
  const [cadence, setCadence] = useState<string | null>(null);
  const shownKey = key ?? catalogKey(name);
  const create = useApiForm(['name', 'key', 'description', 'currency', 'billing_cadence', 'phases'], {
    mutationFn: () =>
      unwrap(
        api.POST('/v3/openmeter/plans', {
          body: {
            name,
            key: shownKey,
            ...(description ? { description } : {}),
            currency: currency.trim().toUpperCase(),
            billing_cadence: cadence ?? '',
            pro_rating_enabled: true,
            phases: [{ key: 'default', name: 'Default', rate_cards: [] }],
          },
        }),
      ),
    onSuccess: async (p) => {
      await qc.invalidateQueries({ queryKey: ['plans'] });
      onClose();
      void navigate(`/catalog/plans/${p.id}`);
    },
  });
  const errors = create.errors;
  return (
    <Modal opened={opened} onClose={onClose} title="Create Plan">
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
            description="Derived from the name unless you change it. A plan with an existing key is its next version."
            value={shownKey}
            onChange={(e) => setKey(e.currentTarget.value)}
            error={errors.field('key')}
          />
          <Textarea
            label="Description"
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
            error={errors.field('description')}
          />
          <Select
            label="Billing cadence"
            required
            data={CADENCES}
            value={cadence}
            onChange={setCadence}
            error={errors.field('billing_cadence')}
          />
          <TextInput
            label="Currency"
            description="ISO 4217 code"
            required
            value={currency}
            onChange={(e) => setCurrency(e.currentTarget.value)}
            error={errors.field('currency')}
          />
          <FormFooter error={errors.other} onCancel={onClose} submit="Save" busy={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

/** the phases of a plan as PlanUpdate wants them back */
function phasesOf(p: Plan): Schemas['PlanPhase'][] {
  return p.phases.map((ph) => ({ ...ph, rate_cards: ph.rate_cards.map((rc) => ({ ...rc })) }));
}

function priceText(p: Price, currency: string): string {
  switch (p.type) {
    case 'free':
      return 'Free';
    case 'flat':
      return `Flat fee ${p.amount} ${currency}`;
    case 'unit':
      return `${p.amount} ${currency} per unit`;
    default:
      return `${p.type === 'graduated' ? 'Graduated' : 'Volume'}: ${p.tiers
        .map(
          (t) =>
            `${t.up_to_amount ? `up to ${t.up_to_amount}` : 'above'}: ${[
              t.unit_price ? `${t.unit_price.amount}/unit` : '',
              t.flat_price ? `${t.flat_price.amount} flat` : '',
            ]
              .filter(Boolean)
              .join(' + ')}`,
        )
        .join('; ')}`;
  }
}

function entitlementText(e: RateCard['entitlement']): string {
  if (!e) return 'None';
  if (e.type === 'boolean') return 'Boolean';
  if (e.type === 'static') return `Static ${JSON.stringify(e.config)}`;
  return `Metered${e.limit !== undefined ? `, limit ${e.limit}` : ''}${e.is_soft_limit ? ' (soft)' : ''}${
    e.usage_period ? ` per ${cadenceLabel(e.usage_period)}` : ''
  }`;
}

export function PlanPage() {
  const { planId = '' } = useParams();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [adding, setAdding] = useState(false);
  const [confirm, setConfirm] = useState<'publish' | 'archive' | 'delete' | null>(null);
  const plan = useQuery({
    queryKey: ['plan', planId],
    queryFn: () => unwrap(api.GET('/v3/openmeter/plans/{planId}', { params: { path: { planId } } })),
  });
  const versions = useQuery({
    queryKey: ['plans', 'versions', plan.data?.key],
    enabled: !!plan.data,
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/plans', {
          params: { query: { 'filter[key]': plan.data!.key, 'page[size]': 100 } },
        }),
      ),
  });
  const refresh = async () => {
    await qc.invalidateQueries({ queryKey: ['plan', planId] });
    await qc.invalidateQueries({ queryKey: ['plans'] });
  };
  const update = useMutation({
    mutationFn: (phases: Schemas['PlanPhase'][]) =>
      unwrap(
        api.PUT('/v3/openmeter/plans/{planId}', {
          params: { path: { planId } },
          body: {
            name: plan.data!.name,
            ...(plan.data!.description ? { description: plan.data!.description } : {}),
            pro_rating_enabled: plan.data!.pro_rating_enabled,
            phases,
          },
        }),
      ),
    onSuccess: refresh,
  });
  const action = useMutation({
    mutationFn: async (what: 'publish' | 'archive' | 'delete' | 'new-version') => {
      const p = plan.data!;
      if (what === 'publish')
        return unwrap(api.POST('/v3/openmeter/plans/{planId}/publish', { params: { path: { planId } } }));
      if (what === 'archive')
        return unwrap(api.POST('/v3/openmeter/plans/{planId}/archive', { params: { path: { planId } } }));
      if (what === 'delete') {
        await unwrap(api.DELETE('/v3/openmeter/plans/{planId}', { params: { path: { planId } } }));
        return undefined;
      }
      return unwrap(
        api.POST('/v3/openmeter/plans', {
          body: {
            key: p.key,
            name: p.name,
            ...(p.description ? { description: p.description } : {}),
            currency: p.currency,
            billing_cadence: p.billing_cadence,
            pro_rating_enabled: p.pro_rating_enabled,
            phases: phasesOf(p),
          },
        }),
      );
    },
    onSuccess: async (res, what) => {
      setConfirm(null);
      await refresh();
      if (what === 'delete') void navigate('/catalog/plans');
      else if (what === 'new-version' && res) void navigate(`/catalog/plans/${res.id}`);
    },
  });
  if (plan.isPending) return <Loading what="the plan" />;
  if (plan.error) return <ErrorMessage error={plan.error} />;
  const p = plan.data;
  const draft = p.status === 'draft';
  const removeRateCard = (phase: number, rc: number) =>
    update.mutate(
      phasesOf(p).map((ph, i) =>
        i === phase ? { ...ph, rate_cards: ph.rate_cards.filter((_, j) => j !== rc) } : ph,
      ),
    );
  return (
    <Stack>
      <Anchor component={Link} to="/catalog/plans" size="sm">
        ← Plans
      </Anchor>
      <Group justify="space-between" wrap="wrap">
        <Group>
          <Title order={2}>{p.name}</Title>
          <Badge color={STATUS_COLOR[p.status]}>{p.status}</Badge>
          <Text c="dimmed">version {p.version}</Text>
        </Group>
        <Group gap="xs">
          {draft && <Button onClick={() => setAdding(true)}>Add Rate Card</Button>}
          {draft && (
            <Button color="green" onClick={() => setConfirm('publish')}>
              Publish Plan
            </Button>
          )}
          {draft && (
            <Button variant="default" color="red" onClick={() => setConfirm('delete')}>
              Delete draft
            </Button>
          )}
          {!draft && (
            <Button variant="default" onClick={() => action.mutate('new-version')} loading={action.isPending}>
              New version
            </Button>
          )}
          {p.status === 'active' && (
            <Button variant="default" color="red" onClick={() => setConfirm('archive')}>
              Archive
            </Button>
          )}
        </Group>
      </Group>
      <Text size="sm">
        <Code>{p.key}</Code> · billed every {cadenceLabel(p.billing_cadence)} · {p.currency}
        {p.effective_from ? ` · effective from ${when(p.effective_from)}` : ''}
        {p.effective_to ? ` to ${when(p.effective_to)}` : ''}
      </Text>
      <ErrorMessage error={update.error ?? (confirm ? null : action.error)} />
      {p.phases.map((ph, pi) => (
        <Card withBorder key={ph.key}>
          <Title order={3} size="h5" mb="xs">
            Phase {ph.name}
            {ph.duration ? ` (${cadenceLabel(ph.duration)})` : ''}
          </Title>
          {ph.rate_cards.length === 0 ? (
            <Text c="dimmed" size="sm">
              No rate cards yet{draft ? ': click Add Rate Card.' : '.'}
            </Text>
          ) : (
            <Table.ScrollContainer minWidth={600}>
              <Table aria-label="Rate cards">
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Rate card</Table.Th>
                    <Table.Th>Feature</Table.Th>
                    <Table.Th>Price</Table.Th>
                    <Table.Th>Billing</Table.Th>
                    <Table.Th>Entitlement</Table.Th>
                    {draft && <Table.Th />}
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {ph.rate_cards.map((rc, ri) => (
                    <Table.Tr key={rc.key}>
                      <Table.Td>{rc.name}</Table.Td>
                      <Table.Td>{rc.feature?.id ?? '—'}</Table.Td>
                      <Table.Td>{priceText(rc.price, p.currency)}</Table.Td>
                      <Table.Td>
                        {rc.billing_cadence ? `every ${cadenceLabel(rc.billing_cadence)}` : 'one time'},{' '}
                        {rc.payment_term === 'in_advance' ? 'in advance' : 'in arrears'}
                      </Table.Td>
                      <Table.Td>{entitlementText(rc.entitlement)}</Table.Td>
                      {draft && (
                        <Table.Td>
                          <Button
                            size="xs"
                            variant="subtle"
                            color="red"
                            onClick={() => removeRateCard(pi, ri)}
                            aria-label={`Remove rate card ${rc.name}`}
                          >
                            Remove
                          </Button>
                        </Table.Td>
                      )}
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
        </Card>
      ))}
      <Card withBorder>
        <Title order={3} size="h5" mb="xs">
          Versions
        </Title>
        {versions.isPending && <Loading what="versions" />}
        <Table aria-label="Versions">
          <Table.Tbody>
            {(versions.data?.data ?? [])
              .slice()
              .sort((a, b) => b.version - a.version)
              .map((v) => (
                <Table.Tr key={v.id}>
                  <Table.Td>
                    {v.id === p.id ? (
                      <Text fw={600}>version {v.version}</Text>
                    ) : (
                      <Anchor component={Link} to={`/catalog/plans/${v.id}`}>
                        version {v.version}
                      </Anchor>
                    )}
                  </Table.Td>
                  <Table.Td>
                    <Badge color={STATUS_COLOR[v.status]}>{v.status}</Badge>
                  </Table.Td>
                  <Table.Td>{v.effective_from ? `from ${when(v.effective_from)}` : ''}</Table.Td>
                </Table.Tr>
              ))}
          </Table.Tbody>
        </Table>
      </Card>
      {adding && (
        <RateCardWizard
          plan={p}
          onClose={() => setAdding(false)}
          save={async (rc) => {
            const phases = phasesOf(p);
            const last = phases.length - 1;
            phases[last] = { ...phases[last], rate_cards: [...phases[last].rate_cards, rc] };
            await update.mutateAsync(phases);
          }}
          fieldPrefix={`phases[${p.phases.length - 1}].rate_cards[${p.phases[p.phases.length - 1]?.rate_cards.length ?? 0}]`}
        />
      )}
      <Modal
        opened={confirm !== null}
        onClose={() => setConfirm(null)}
        title={
          confirm === 'publish' ? 'Publish plan' : confirm === 'archive' ? 'Archive plan' : 'Delete draft'
        }
      >
        <Stack>
          <Text size="sm">
            {confirm === 'publish'
              ? `Publishing makes version ${p.version} of ${p.name} the one new subscriptions get${
                  p.version > 1 ? ' and archives the previous version' : ''
                }. A published plan cannot be edited.`
              : confirm === 'archive'
                ? `Archived plans take no new subscriptions; existing ones keep running.`
                : `This draft will be deleted.`}
          </Text>
          <ErrorMessage error={action.error} />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirm(null)}>
              Cancel
            </Button>
            <Button
              color={confirm === 'publish' ? 'green' : 'red'}
              loading={action.isPending}
              onClick={() => confirm && action.mutate(confirm)}
            >
              {confirm === 'publish' ? 'Publish' : confirm === 'archive' ? 'Archive' : 'Delete'}
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Stack>
  );
}

type Model = 'free' | 'flat' | 'unit' | 'graduated' | 'volume';
const MODELS: { value: Model; label: string }[] = [
  { value: 'free', label: 'Free' },
  { value: 'flat', label: 'Flat fee' },
  { value: 'unit', label: 'Usage based' },
  { value: 'graduated', label: 'Graduated' },
  { value: 'volume', label: 'Volume' },
];
interface TierRow {
  upTo: string;
  unit: string;
  flat: string;
}

function RateCardWizard({
  plan,
  onClose,
  save,
  fieldPrefix,
}: {
  plan: Plan;
  onClose: () => void;
  save: (rc: RateCard) => Promise<void>;
  fieldPrefix: string;
}) {
  const features = useFeatures();
  const [step, setStep] = useState(0);
  const [featureId, setFeatureId] = useState<string | null>(null);
  const [name, setName] = useState<string | null>(null);
  const [key, setKey] = useState<string | null>(null);
  const [model, setModel] = useState<Model | null>(null);
  const [amount, setAmount] = useState('');
  const [term, setTerm] = useState<'in_advance' | 'in_arrears'>('in_arrears');
  const [oneTime, setOneTime] = useState(false);
  const [tiers, setTiers] = useState<TierRow[]>([
    { upTo: '', unit: '', flat: '' },
    { upTo: '', unit: '', flat: '' },
  ]);
  const [ent, setEnt] = useState<'none' | 'boolean' | 'metered' | 'static'>('none');
  const [limit, setLimit] = useState<number | string>('');
  const [soft, setSoft] = useState(false);
  const [config, setConfig] = useState('{}');
  const [busy, setBusy] = useState(false);
  const errors = useFormErrors([
    'key',
    'name',
    'feature',
    'price',
    'billing_cadence',
    'entitlement',
    'payment_term',
  ]);
  const feature = features.data?.data.find((f) => f.id === featureId);
  const shownName = name ?? feature?.name ?? '';
  const shownKey = key ?? (feature?.key || catalogKey(shownName));
  const metered = !!feature?.meter;

  const price = (): Price => {
    switch (model ?? 'free') {
      case 'free':
        return { type: 'free' };
      case 'flat':
        return { type: 'flat', amount: amount.trim() };
      case 'unit':
        return { type: 'unit', amount: amount.trim() };
      default:
        return {
          type: model as 'graduated' | 'volume',
          tiers: tiers.map((t): Tier => ({
            ...(t.upTo.trim() ? { up_to_amount: t.upTo.trim() } : {}),
            ...(t.unit.trim() ? { unit_price: { type: 'unit', amount: t.unit.trim() } } : {}),
            ...(t.flat.trim() ? { flat_price: { type: 'flat', amount: t.flat.trim() } } : {}),
          })),
        };
    }
  };
  const entitlement = (): RateCard['entitlement'] => {
    if (ent === 'boolean') return { type: 'boolean' };
    if (ent === 'metered')
      return {
        type: 'metered',
        is_soft_limit: soft,
        ...(limit !== '' ? { limit: Number(limit) } : {}),
        usage_period: plan.billing_cadence,
      };
    if (ent === 'static') {
      let parsed: unknown;
      try {
        parsed = JSON.parse(config);
      } catch {
        throw new Error('Config must be JSON');
      }
      return { type: 'static', config: parsed };
    }
    return undefined;
  };
  const submit = async () => {
    errors.clear();
    setBusy(true);
    try {
      const e = entitlement();
      const rc: RateCard = {
        key: shownKey,
        name: shownName,
        ...(featureId ? { feature: { id: featureId } } : {}),
        billing_cadence: oneTime ? null : plan.billing_cadence,
        payment_term: model === 'flat' || model === 'free' ? term : 'in_arrears',
        price: price(),
        ...(e ? { entitlement: e } : {}),
      };
      await save(rc);
      onClose();
    } catch (err) {
      errors.take(prefixed(err, fieldPrefix));
      // a field error of an earlier step: go back to it
      const s = firstStepWithError(err, fieldPrefix);
      if (s !== undefined) setStep(s);
    } finally {
      setBusy(false);
    }
  };
  const tierField = errors.field('price');
  return (
    <Modal opened onClose={onClose} title="Add Rate Card" size="xl">
      <Stepper active={step} onStepClick={setStep} size="sm" mb="md">
        <Stepper.Step label="Feature" />
        <Stepper.Step label="Price" />
        <Stepper.Step label="Entitlement" />
      </Stepper>
      <Stack>
        {step === 0 && (
          <>
            <Select
              label="Feature"
              placeholder={features.isPending ? 'Loading features…' : 'No feature (a fee)'}
              data={(features.data?.data ?? []).map((f) => ({ value: f.id, label: f.name }))}
              value={featureId}
              onChange={setFeatureId}
              clearable
              searchable
              error={errors.field('feature')}
            />
            <TextInput
              label="Name"
              required
              value={shownName}
              onChange={(e) => setName(e.currentTarget.value)}
              error={errors.field('name')}
            />
            <TextInput
              label="Key"
              description="Derived from the feature or the name unless you change it."
              value={shownKey}
              onChange={(e) => setKey(e.currentTarget.value)}
              error={errors.field('key')}
            />
          </>
        )}
        {step === 1 && (
          <>
            <Select
              label="Pricing model"
              required
              data={MODELS.map((m) => ({
                ...m,
                disabled: !metered && (m.value === 'unit' || m.value === 'graduated' || m.value === 'volume'),
              }))}
              value={model}
              onChange={(v) => setModel(v)}
              error={
                errors.field('price') && model !== 'graduated' && model !== 'volume'
                  ? errors.field('price')
                  : undefined
              }
              description={metered ? undefined : 'Usage-based models need a feature with a meter.'}
            />
            {(model === 'unit' || model === 'flat') && (
              <TextInput
                label={model === 'unit' ? 'Price per unit' : 'Amount'}
                required
                inputMode="decimal"
                value={amount}
                onChange={(e) => setAmount(e.currentTarget.value)}
                rightSection={<Text size="xs">{plan.currency}</Text>}
                error={errors.field('price.amount')}
              />
            )}
            {(model === 'flat' || model === 'free') && (
              <>
                <Select
                  label="Payment term"
                  data={[
                    { value: 'in_advance', label: 'In advance' },
                    { value: 'in_arrears', label: 'In arrears' },
                  ]}
                  value={term}
                  allowDeselect={false}
                  onChange={(v) => setTerm(v ?? 'in_arrears')}
                  error={errors.field('payment_term')}
                />
                <Checkbox
                  label="One time (not billed every period)"
                  checked={oneTime}
                  onChange={(e) => setOneTime(e.currentTarget.checked)}
                />
              </>
            )}
            {(model === 'graduated' || model === 'volume') && (
              <Stack gap={4}>
                <Text size="sm" fw={500}>
                  Tiers
                </Text>
                <Text size="xs" c="dimmed">
                  {model === 'graduated'
                    ? 'Each tier prices the units within it.'
                    : 'The tier the total quantity falls in prices every unit.'}{' '}
                  Leave the last tier&apos;s “Up to” empty.
                </Text>
                {tiers.map((t, i) => (
                  <Group key={i} gap="xs" align="flex-start" wrap="nowrap">
                    <TextInput
                      label={`Tier ${i + 1} up to`}
                      placeholder="∞"
                      inputMode="decimal"
                      value={t.upTo}
                      onChange={(e) => {
                        const v = e.currentTarget.value;
                        setTiers((ts) => ts.map((x, j) => (j === i ? { ...x, upTo: v } : x)));
                      }}
                      error={errors.field(`price.tiers[${i}].up_to_amount`)}
                    />
                    <TextInput
                      label={`Tier ${i + 1} unit price`}
                      inputMode="decimal"
                      value={t.unit}
                      onChange={(e) => {
                        const v = e.currentTarget.value;
                        setTiers((ts) => ts.map((x, j) => (j === i ? { ...x, unit: v } : x)));
                      }}
                      error={errors.field(`price.tiers[${i}].unit_price`)}
                    />
                    <TextInput
                      label={`Tier ${i + 1} flat price`}
                      inputMode="decimal"
                      value={t.flat}
                      onChange={(e) => {
                        const v = e.currentTarget.value;
                        setTiers((ts) => ts.map((x, j) => (j === i ? { ...x, flat: v } : x)));
                      }}
                      error={errors.field(`price.tiers[${i}].flat_price`)}
                    />
                    <ActionIcon
                      mt={28}
                      variant="subtle"
                      color="red"
                      aria-label={`Remove tier ${i + 1}`}
                      disabled={tiers.length <= 1}
                      onClick={() => setTiers((ts) => ts.filter((_, j) => j !== i))}
                    >
                      ×
                    </ActionIcon>
                  </Group>
                ))}
                <GroupError
                  error={
                    Object.keys(tiers).some((_, i) => errors.field(`price.tiers[${i}]`))
                      ? undefined
                      : tierField
                  }
                />
                <Button
                  variant="light"
                  size="xs"
                  w="fit-content"
                  onClick={() => setTiers((ts) => [...ts, { upTo: '', unit: '', flat: '' }])}
                >
                  Add tier
                </Button>
              </Stack>
            )}
          </>
        )}
        {step === 2 && (
          <>
            <Radio.Group
              label="Entitlement"
              value={ent}
              onChange={(v) => setEnt(v)}
              error={errors.field('entitlement')}
            >
              <Stack gap="xs" mt="xs">
                <Radio value="none" label="None" />
                <Radio value="boolean" label="Boolean" description="access to the feature while subscribed" />
                <Radio
                  value="metered"
                  label="Metered"
                  description="usage against a limit each billing period"
                  disabled={!metered}
                />
                <Radio value="static" label="Static" description="a configuration the feature reads" />
              </Stack>
            </Radio.Group>
            {ent === 'metered' && (
              <Group>
                <NumberInput
                  label="Limit"
                  min={0}
                  value={limit}
                  onChange={setLimit}
                  error={errors.field('entitlement.limit')}
                />
                <Checkbox
                  mt={24}
                  label="Soft limit"
                  checked={soft}
                  onChange={(e) => setSoft(e.currentTarget.checked)}
                />
              </Group>
            )}
            {ent === 'static' && (
              <Textarea
                label="Config"
                description="JSON"
                value={config}
                onChange={(e) => setConfig(e.currentTarget.value)}
                error={errors.field('entitlement.config')}
              />
            )}
          </>
        )}
        <ErrorMessage error={errors.other} />
        <Group justify="space-between">
          <Button variant="default" onClick={step === 0 ? onClose : () => setStep(step - 1)}>
            {step === 0 ? 'Cancel' : 'Back'}
          </Button>
          {step < 2 ? (
            <Button onClick={() => setStep(step + 1)} disabled={step === 0 ? !shownName : !model}>
              Next Step
            </Button>
          ) : (
            <Button onClick={() => void submit()} loading={busy}>
              Save Rate Card
            </Button>
          )}
        </Group>
      </Stack>
    </Modal>
  );
}

/** an ApiError whose fields are under `prefix` (`phases[0].rate_cards[2].`) re-rooted at the rate card */
function prefixed(err: unknown, prefix: string): unknown {
  if (!(err instanceof Error) || !('problem' in err)) return err;
  const e = err as import('../api/client').ApiError;
  if (!e.problem?.invalid_parameters) return err;
  const p = `body.${prefix}.`;
  const problem = {
    ...e.problem,
    invalid_parameters: e.problem.invalid_parameters.map((ip) => ({
      ...ip,
      field: ip.field?.startsWith(p) ? ip.field.slice(p.length) : ip.field,
    })),
  };
  return Object.assign(Object.create(Object.getPrototypeOf(e) as object) as object, e, { problem });
}

function firstStepWithError(err: unknown, prefix: string): number | undefined {
  if (!(err instanceof Error) || !('problem' in err)) return undefined;
  const fields = ((err as import('../api/client').ApiError).problem?.invalid_parameters ?? []).map((ip) =>
    (ip.field ?? '').replace(`body.${prefix}.`, ''),
  );
  if (fields.some((f) => /^(key|name|feature)/.test(f))) return 0;
  if (fields.some((f) => /^(price|billing_cadence|payment_term)/.test(f))) return 1;
  if (fields.some((f) => /^entitlement/.test(f))) return 2;
  return undefined;
}
