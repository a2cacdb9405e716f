import {
  ActionIcon,
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Modal,
  Select,
  SimpleGrid,
  Stack,
  Text,
  TextInput,
  Textarea,
  Title,
} from '@mantine/core';
import { useQuery, useQueryClient } from '@tanstack/react-query';
import { useMemo, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { CartesianGrid, Legend, Line, LineChart, ResponsiveContainer, Tooltip, XAxis, YAxis } from 'recharts';
import { api, unwrap, type Schemas } from '../api/client';
import { meterKey } from '../lib/keys';
import { when } from '../lib/format';
import { ErrorMessage, FormFooter, GroupError, Loading, PagedTable, useApiForm } from '../lib/ui';

type Aggregation = Schemas['MeterAggregation'];

/** the aggregation names as the tutorial writes them */
export const AGGREGATIONS: { value: Aggregation; label: string }[] = [
  { value: 'sum', label: 'SUM' },
  { value: 'count', label: 'COUNT' },
  { value: 'unique_count', label: 'UNIQUE COUNT' },
  { value: 'avg', label: 'AVG' },
  { value: 'min', label: 'MIN' },
  { value: 'max', label: 'MAX' },
  { value: 'latest', label: 'LATEST' },
];
const aggregationLabel = (a: string) => AGGREGATIONS.find((x) => x.value === a)?.label ?? a;

export function MetersPage() {
  const [creating, setCreating] = useState(false);
  return (
    <Stack>
      <Group justify="space-between">
        <Title order={2}>Meters</Title>
        <Button onClick={() => setCreating(true)}>New meter</Button>
      </Group>
      <PagedTable
        queryKey={['meters']}
        fetchPage={(p) =>
          unwrap(
            api.GET('/v3/openmeter/meters', {
              params: { query: { 'page[size]': p.size, 'page[number]': p.number } },
            }),
          )
        }
        label="Meters"
        what="meters"
        empty="No meters yet. A meter counts events of one type: click New meter."
        highlightOnHover
        rowKey={(m) => m.id}
        columns={[
          {
            header: 'Name',
            cell: (m) => (
              <Anchor component={Link} to={`/meters/${m.id}`}>
                {m.name}
              </Anchor>
            ),
          },
          { header: 'Key', cell: (m) => <Code>{m.key}</Code> },
          { header: 'Event type', cell: (m) => m.event_type },
          { header: 'Aggregation', cell: (m) => aggregationLabel(m.aggregation) },
          { header: 'Value property', cell: (m) => m.value_property ?? '—' },
        ]}
      />
      <NewMeter opened={creating} onClose={() => setCreating(false)} />
    </Stack>
  );
}

interface Dim {
  name: string;
  path: string;
}

function NewMeter({ opened, onClose }: { opened: boolean; onClose: () => void }) {
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [name, setName] = useState('');
  const [key, setKey] = useState('');
  const [keyEdited, setKeyEdited] = useState(false);
  const [description, setDescription] = useState('');
  const [eventType, setEventType] = useState('');
  const [aggregation, setAggregation] = useState<Aggregation | null>(null);
  const [valueProperty, setValueProperty] = useState('');
  const [dims, setDims] = useState<Dim[]>([]);
  const shownKey = keyEdited ? key : meterKey(name);
  const needsValue = aggregation !== null && aggregation !== 'count';
  const create = useApiForm(
    ['name', 'key', 'description', 'event_type', 'aggregation', 'value_property', 'dimensions'],
    {
      mutationFn: () =>
        unwrap(
          api.POST('/v3/openmeter/meters', {
            body: {
              name,
              key: shownKey,
              ...(description ? { description } : {}),
              event_type: eventType,
              aggregation: aggregation ?? ('' as Aggregation),
              ...(needsValue && valueProperty ? { value_property: valueProperty } : {}),
              ...(dims.length
                ? { dimensions: Object.fromEntries(dims.filter((d) => d.name).map((d) => [d.name, d.path])) }
                : {}),
            },
          }),
        ),
      onSuccess: async (m) => {
        await qc.invalidateQueries({ queryKey: ['meters'] });
        onClose();
        void navigate(`/meters/${m.id}`);
      },
    },
  );
  const errors = create.errors;
  const submit = (e: FormEvent) => {
    e.preventDefault();
    create.mutate();
  };
  return (
    <Modal opened={opened} onClose={onClose} title="New meter" size="lg">
      <form onSubmit={submit}>
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
            description="Derived from the name unless you change it; lowercase letters, digits and underscores."
            value={shownKey}
            onChange={(e) => {
              setKeyEdited(true);
              setKey(e.currentTarget.value);
            }}
            error={errors.field('key')}
          />
          <Textarea
            label="Description"
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
            error={errors.field('description')}
          />
          <TextInput
            label="Event Type Filter"
            description="The CloudEvents type this meter counts, e.g. user_activity"
            required
            value={eventType}
            onChange={(e) => setEventType(e.currentTarget.value)}
            error={errors.field('event_type')}
          />
          <Select
            label="Aggregation"
            required
            data={AGGREGATIONS}
            value={aggregation}
            onChange={(v) => setAggregation(v)}
            error={errors.field('aggregation')}
          />
          {aggregation !== 'count' && (
            <TextInput
              label="Value property"
              description="JSONPath into the event's data, e.g. $.user_id"
              value={valueProperty}
              onChange={(e) => setValueProperty(e.currentTarget.value)}
              error={errors.field('value_property')}
            />
          )}
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              Dimensions
            </Text>
            {dims.map((d, i) => (
              <Group key={i} gap="xs" align="flex-start">
                <TextInput
                  aria-label={`Dimension ${i + 1} name`}
                  placeholder="name, e.g. region"
                  value={d.name}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setDims((ds) => ds.map((x, j) => (j === i ? { ...x, name: v } : x)));
                  }}
                />
                <TextInput
                  aria-label={`Dimension ${i + 1} JSONPath`}
                  placeholder="$.region"
                  value={d.path}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setDims((ds) => ds.map((x, j) => (j === i ? { ...x, path: v } : x)));
                  }}
                  error={d.name ? errors.field(`dimensions.${d.name}`) : undefined}
                />
                <ActionIcon
                  variant="subtle"
                  color="red"
                  aria-label={`Remove dimension ${i + 1}`}
                  onClick={() => setDims((ds) => ds.filter((_, j) => j !== i))}
                  mt={6}
                >
                  ×
                </ActionIcon>
              </Group>
            ))}
            <GroupError error={errors.field('dimensions')} />
            <Button
              variant="light"
              size="xs"
              w="fit-content"
              onClick={() => setDims((ds) => [...ds, { name: '', path: '' }])}
            >
              Add dimension
            </Button>
          </Stack>
          <FormFooter error={errors.other} onCancel={onClose} submit="Save" busy={create.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

const RANGES = [
  { value: 'PT1H', label: 'Last hour', ms: 3600_000, granularity: 'PT1M' },
  { value: 'P1D', label: 'Last 24 hours', ms: 86400_000, granularity: 'PT1H' },
  { value: 'P7D', label: 'Last 7 days', ms: 7 * 86400_000, granularity: 'P1D' },
  { value: 'P30D', label: 'Last 30 days', ms: 30 * 86400_000, granularity: 'P1D' },
  { value: 'P365D', label: 'Last 12 months', ms: 365 * 86400_000, granularity: 'P1M' },
] as const;
const GRANULARITIES = [
  { value: 'PT1M', label: 'Minute' },
  { value: 'PT1H', label: 'Hour' },
  { value: 'P1D', label: 'Day' },
  { value: 'P1M', label: 'Month' },
];
type Granularity = 'PT1M' | 'PT1H' | 'P1D' | 'P1M';
/** fixed bucket lengths (a month has none) */
const STEP_MS: Partial<Record<Granularity, number>> = { PT1M: 60_000, PT1H: 3600_000, P1D: 86400_000 };
const COLORS = ['#4c6ef5', '#f76707', '#37b24d', '#ae3ec9', '#1098ad', '#f03e3e', '#fab005', '#495057'];

export function MeterPage() {
  const { meterId = '' } = useParams();
  const meter = useQuery({
    queryKey: ['meter', meterId],
    queryFn: () => unwrap(api.GET('/v3/openmeter/meters/{meterId}', { params: { path: { meterId } } })),
  });
  if (meter.isPending) return <Loading what="the meter" />;
  if (meter.error) return <ErrorMessage error={meter.error} />;
  const m = meter.data;
  return (
    <Stack>
      <Anchor component={Link} to="/meters" size="sm">
        ← Meters
      </Anchor>
      <Group>
        <Title order={2}>{m.name}</Title>
        <Badge variant="light">{aggregationLabel(m.aggregation)}</Badge>
      </Group>
      {m.description && <Text>{m.description}</Text>}
      <SimpleGrid cols={{ base: 1, sm: 4 }}>
        <Field label="Key" value={<Code>{m.key}</Code>} />
        <Field label="Event type" value={m.event_type} />
        <Field label="Value property" value={m.value_property ?? '—'} />
        <Field
          label="Dimensions"
          value={
            Object.keys(m.dimensions ?? {}).length
              ? Object.entries(m.dimensions ?? {})
                  .map(([k, v]) => `${k} (${v})`)
                  .join(', ')
              : '—'
          }
        />
      </SimpleGrid>
      <UsageChart meter={m} />
    </Stack>
  );
}

function Field({ label, value }: { label: string; value: React.ReactNode }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text component="div">{value}</Text>
    </div>
  );
}

function UsageChart({ meter }: { meter: Schemas['Meter'] }) {
  const [range, setRange] = useState<string>('P1D');
  const [granularity, setGranularity] = useState<Granularity>('PT1H');
  const [groupBy, setGroupBy] = useState<string>('');
  // the range ends at the current minute, so that the query key is stable between renders
  const [now] = useState(() => Math.ceil(Date.now() / 60_000) * 60_000);
  const r = RANGES.find((x) => x.value === range) ?? RANGES[1];
  const from = new Date(now - r.ms).toISOString();
  const to = new Date(now + 60_000).toISOString();
  const timeZone = Intl.DateTimeFormat().resolvedOptions().timeZone || 'UTC';
  const usage = useQuery({
    queryKey: ['meter-usage', meter.id, range, granularity, groupBy],
    queryFn: () =>
      unwrap(
        api.POST('/v3/openmeter/meters/{meterId}/query', {
          params: { path: { meterId: meter.id } },
          body: {
            from,
            to,
            granularity,
            time_zone: timeZone,
            ...(groupBy ? { group_by_dimensions: [groupBy] } : {}),
          },
        }),
      ),
  });
  const customers = useQuery({
    queryKey: ['customers-names'],
    enabled: groupBy === 'customer_id',
    queryFn: () => unwrap(api.GET('/v3/openmeter/customers', { params: { query: { 'page[size]': 1000 } } })),
  });
  const { rows, series } = useMemo(() => {
    const names = new Map((customers.data?.data ?? []).map((c) => [c.id, c.name]));
    const label = (v: string | null | undefined) =>
      v === null || v === undefined ? '(none)' : groupBy === 'customer_id' ? (names.get(v) ?? v) : v;
    const byTime = new Map<string, Record<string, number | string>>();
    const series = new Set<string>();
    for (const d of usage.data?.data ?? []) {
      const s = groupBy ? label(d.dimensions[groupBy]) : meter.name;
      series.add(s);
      const row = byTime.get(d.from) ?? { t: d.from };
      row[s] = Number(d.value);
      byTime.set(d.from, row);
    }
    // buckets without usage are zero (the API returns only buckets with events)
    const step = STEP_MS[granularity];
    const starts = [...byTime.keys()].map((t) => Date.parse(t));
    if (step && starts.length) {
      const lo = Date.parse(from);
      const hi = Date.parse(to);
      let t = Math.min(...starts);
      while (t - step >= lo) t -= step;
      for (; t < hi; t += step) {
        const k = new Date(t).toISOString();
        if (!byTime.has(k)) byTime.set(k, { t: k });
      }
    }
    for (const row of byTime.values()) for (const s of series) row[s] ??= 0;
    const rows = [...byTime.values()].sort((a, b) => String(a.t).localeCompare(String(b.t)));
    return { rows, series: [...series] };
  }, [usage.data, groupBy, meter.name, customers.data, granularity, from, to]);
  const fmt = (t: string) => {
    const d = new Date(t);
    return granularity === 'P1D' || granularity === 'P1M'
      ? d.toLocaleDateString()
      : d.toLocaleTimeString([], { hour: '2-digit', minute: '2-digit' });
  };
  return (
    <Card withBorder>
      <Stack>
        <Group justify="space-between" wrap="wrap">
          <Title order={3} size="h4">
            Usage
          </Title>
          <Group gap="xs" wrap="wrap">
            <Select
              label="Range"
              size="xs"
              w={150}
              data={RANGES.map((x) => ({ value: x.value, label: x.label }))}
              value={range}
              allowDeselect={false}
              onChange={(v) => {
                const nr = RANGES.find((x) => x.value === v) ?? RANGES[1];
                setRange(nr.value);
                setGranularity(nr.granularity);
              }}
            />
            <Select
              label="Granularity"
              size="xs"
              w={120}
              data={GRANULARITIES}
              value={granularity}
              allowDeselect={false}
              onChange={(v) => setGranularity((v ?? 'PT1H') as Granularity)}
            />
            <Select
              label="Group by"
              size="xs"
              w={150}
              data={[
                { value: '', label: 'Nothing' },
                { value: 'customer_id', label: 'Customer' },
                { value: 'subject', label: 'Subject' },
                ...Object.keys(meter.dimensions ?? {}).map((d) => ({ value: d, label: d })),
              ]}
              value={groupBy}
              allowDeselect={false}
              onChange={(v) => setGroupBy(v ?? '')}
            />
          </Group>
        </Group>
        {usage.isPending && <Loading what="usage" />}
        <ErrorMessage error={usage.error} />
        {usage.data && rows.length === 0 && (
          <Text c="dimmed" size="sm">
            No usage in this range.
          </Text>
        )}
        {usage.data && rows.length > 0 && (
          <div
            style={{ width: '100%', height: 300 }}
            role="img"
            aria-label={`Usage of ${meter.name}`}
            data-testid="usage-chart"
          >
            <ResponsiveContainer>
              <LineChart data={rows} margin={{ top: 8, right: 16, bottom: 8, left: 0 }}>
                <CartesianGrid strokeDasharray="3 3" />
                <XAxis dataKey="t" tickFormatter={fmt} minTickGap={24} />
                <YAxis allowDecimals />
                <Tooltip labelFormatter={(t) => when(typeof t === 'string' ? t : '')} />
                <Legend />
                {series.map((s, i) => (
                  <Line
                    key={s}
                    type="monotone"
                    dataKey={s}
                    stroke={COLORS[i % COLORS.length]}
                    dot={false}
                    isAnimationActive={false}
                  />
                ))}
              </LineChart>
            </ResponsiveContainer>
          </div>
        )}
      </Stack>
    </Card>
  );
}
