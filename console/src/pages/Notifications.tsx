/**
 * Settings → Notifications: channels (signed webhooks: URL, write-only signing secret, custom headers,
 * enabled; Send test), rules (which event types, features and thresholds go to which channels) and the
 * events with their deliveries (state, attempts, last response) and Resend.
 */
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
  MultiSelect,
  Select,
  SimpleGrid,
  Stack,
  Switch,
  Table,
  Tabs,
  Text,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, unwrap, type Schemas } from '../api/client';
import { when } from '../lib/format';
import {
  ErrorMessage,
  FormFooter,
  SecretInput,
  GroupError,
  Loading,
  PagedTable,
  useApiForm,
} from '../lib/ui';

type Channel = Schemas['NotificationChannel'];
type Rule = Schemas['NotificationRule'];
type EventType = Schemas['NotificationEventType'];
type Delivery = Schemas['NotificationDeliveryStatus'];

export const EVENT_TYPES: { value: EventType; label: string }[] = [
  { value: 'invoice.created', label: 'Invoice created' },
  { value: 'invoice.updated', label: 'Invoice updated' },
  { value: 'subscription.created', label: 'Subscription created' },
  { value: 'subscription.changed', label: 'Subscription changed' },
  { value: 'subscription.canceled', label: 'Subscription canceled' },
  { value: 'entitlements.balance.threshold', label: 'Entitlement balance threshold' },
  { value: 'entitlements.reset', label: 'Entitlement reset' },
];
const typeLabel = (t: string) => EVENT_TYPES.find((x) => x.value === t)?.label ?? t;

const STATE_COLOR: Record<string, string> = {
  pending: 'gray',
  sending: 'blue',
  resending: 'blue',
  success: 'green',
  failed: 'red',
};

export function NotificationsSettings() {
  const { section = 'channels' } = useParams();
  const navigate = useNavigate();
  return (
    <Tabs
      variant="pills"
      value={section}
      onChange={(s) => void navigate(`/settings/notifications/${s ?? 'channels'}`)}
      keepMounted={false}
    >
      <Tabs.List aria-label="Notifications">
        <Tabs.Tab value="channels">Channels</Tabs.Tab>
        <Tabs.Tab value="rules">Rules</Tabs.Tab>
        <Tabs.Tab value="events">Events</Tabs.Tab>
      </Tabs.List>
      <Tabs.Panel value="channels" pt="md">
        <ChannelsSection />
      </Tabs.Panel>
      <Tabs.Panel value="rules" pt="md">
        <RulesSection />
      </Tabs.Panel>
      <Tabs.Panel value="events" pt="md">
        <EventsSection />
      </Tabs.Panel>
    </Tabs>
  );
}

/* ---------- channels ---------- */

/** every channel (for the rule form and names) */
function useChannels() {
  return useQuery({
    queryKey: ['notification-channels', 'all'],
    queryFn: () =>
      unwrap(api.GET('/v3/openmeter/notification/channels', { params: { query: { 'page[size]': 1000 } } })),
  });
}

/** a channel as its PUT body (the secret left out: the API keeps it), with `patch` applied */
function channelBody(
  c: Channel,
  patch: Partial<Schemas['NotificationChannelCreate']> = {},
): Schemas['NotificationChannelCreate'] {
  return {
    type: 'webhook',
    name: c.name,
    url: c.url,
    custom_headers: c.custom_headers,
    disabled: c.disabled,
    ...(c.metadata ? { metadata: c.metadata } : {}),
    ...patch,
  };
}

function ChannelsSection() {
  const qc = useQueryClient();
  const [editing, setEditing] = useState<Channel | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Channel | null>(null);
  const [created, setCreated] = useState<Channel | null>(null);
  const toggle = useMutation({
    mutationFn: (c: Channel) =>
      unwrap(
        api.PUT('/v3/openmeter/notification/channels/{id}', {
          params: { path: { id: c.id } },
          body: channelBody(c, { disabled: !c.disabled }),
        }),
      ),
    onSettled: () => qc.invalidateQueries({ queryKey: ['notification-channels'] }),
  });
  const test = useMutation({
    mutationFn: (c: Channel) =>
      unwrap(api.POST('/v3/openmeter/notification/channels/{id}/test', { params: { path: { id: c.id } } })),
  });
  const [testing, setTesting] = useState<Channel | null>(null);
  const remove = useApiForm<unknown, Channel>([], {
    mutationFn: (c) =>
      unwrap(api.DELETE('/v3/openmeter/notification/channels/{id}', { params: { path: { id: c.id } } })),
    onSuccess: async () => {
      setDeleting(null);
      await qc.invalidateQueries({ queryKey: ['notification-channels'] });
    },
  });
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">
          Channels
        </Title>
        <Button size="xs" onClick={() => setEditing('new')}>
          Create channel
        </Button>
      </Group>
      <Text size="xs" c="dimmed" mb="xs">
        Webhooks signed per Standard Webhooks with the channel&apos;s signing secret; every attempt and resend
        of an event carries its id as <Code>webhook-id</Code>.
      </Text>
      <ErrorMessage error={toggle.error} title="Not changed" />
      <PagedTable
        queryKey={['notification-channels', 'page']}
        fetchPage={(p) =>
          unwrap(
            api.GET('/v3/openmeter/notification/channels', {
              params: { query: { 'page[size]': p.size, 'page[number]': p.number } },
            }),
          )
        }
        label="Channels"
        what="channels"
        empty="No channels yet: create one to receive webhooks."
        minWidth={760}
        rowKey={(c) => c.id}
        columns={[
          { header: 'Name', cell: (c) => c.name },
          { header: 'URL', cell: (c) => <Code>{c.url}</Code> },
          {
            header: 'Custom headers',
            cell: (c) => Object.keys(c.custom_headers).join(', ') || '—',
          },
          {
            header: 'Enabled',
            cell: (c) => (
              <Switch
                aria-label={`Enabled ${c.name}`}
                checked={!c.disabled}
                disabled={toggle.isPending && toggle.variables?.id === c.id}
                onChange={() => toggle.mutate(c)}
              />
            ),
          },
          {
            header: 'Actions',
            cell: (c) => (
              <Group gap={4} wrap="nowrap">
                <Button
                  size="xs"
                  variant="default"
                  aria-label={`Edit ${c.name}`}
                  onClick={() => setEditing(c)}
                >
                  Edit
                </Button>
                <Button
                  size="xs"
                  variant="default"
                  aria-label={`Send test to ${c.name}`}
                  onClick={() => {
                    setTesting(c);
                    test.mutate(c);
                  }}
                >
                  Send test
                </Button>
                <Button
                  size="xs"
                  variant="subtle"
                  color="red"
                  aria-label={`Delete ${c.name}`}
                  onClick={() => {
                    remove.reset();
                    setDeleting(c);
                  }}
                >
                  Delete
                </Button>
              </Group>
            ),
          },
        ]}
      />
      {editing && (
        <ChannelForm
          channel={editing === 'new' ? undefined : editing}
          onClose={() => setEditing(null)}
          onCreated={setCreated}
        />
      )}
      <Modal
        opened={created !== null}
        onClose={() => setCreated(null)}
        title={`Signing secret of ${created?.name ?? ''}`}
      >
        <Stack>
          <Text size="sm">
            Your receiver verifies the webhooks with this secret. It is shown this once: Tally never shows it
            again (replace the channel&apos;s secret to get a new one).
          </Text>
          <Code block aria-label="Signing secret">
            {created?.signing_secret}
          </Code>
          <Group justify="flex-end">
            <Button onClick={() => setCreated(null)}>Done</Button>
          </Group>
        </Stack>
      </Modal>
      <Modal
        opened={testing !== null}
        onClose={() => setTesting(null)}
        title={`Test of ${testing?.name ?? ''}`}
      >
        <Stack>
          {test.isPending && <Loading what="the receiver's answer" />}
          <ErrorMessage error={test.error} title="Not sent" />
          {test.data && !test.isPending && (
            <Stack gap={4} aria-label="Test result">
              <Group>
                <Badge color={test.data.success ? 'green' : 'red'}>
                  {test.data.success ? 'delivered' : 'failed'}
                </Badge>
                <Text size="sm">
                  {test.data.status_code !== undefined ? `HTTP ${test.data.status_code}` : 'no answer'} in{' '}
                  {test.data.duration_ms} ms
                </Text>
              </Group>
              {test.data.error && <Text size="sm">Error: {test.data.error}</Text>}
              <Text size="sm">
                Event <Code>{test.data.event_id}</Code>
              </Text>
              {test.data.body && <Code block>{test.data.body}</Code>}
            </Stack>
          )}
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setTesting(null)}>
              Close
            </Button>
          </Group>
        </Stack>
      </Modal>
      <Modal
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title={`Delete ${deleting?.name ?? ''}?`}
      >
        <Stack>
          <Text size="sm">Its unfinished deliveries stop. A channel a rule names cannot be deleted.</Text>
          <ErrorMessage error={remove.errors.other} title="Not deleted" />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDeleting(null)}>
              Keep it
            </Button>
            <Button
              color="red"
              loading={remove.isPending}
              onClick={() => deleting && remove.mutate(deleting)}
            >
              Delete channel
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

interface HeaderRow {
  name: string;
  value: string;
}

function ChannelForm({
  channel,
  onClose,
  onCreated,
}: {
  channel?: Channel;
  onClose: () => void;
  onCreated: (c: Channel) => void;
}) {
  const qc = useQueryClient();
  const [name, setName] = useState(channel?.name ?? '');
  const [url, setUrl] = useState(channel?.url ?? '');
  const [secret, setSecret] = useState('');
  const [headers, setHeaders] = useState<HeaderRow[]>(
    Object.entries(channel?.custom_headers ?? {}).map(([n, v]) => ({ name: n, value: v })),
  );
  const [enabled, setEnabled] = useState(!(channel?.disabled ?? false));
  const save = useApiForm(
    ['type', 'name', 'url', 'signing_secret', 'custom_headers', 'disabled', 'metadata'],
    {
      mutationFn: () => {
        const body: Schemas['NotificationChannelCreate'] = {
          type: 'webhook',
          name,
          url: url.trim(),
          ...(secret ? { signing_secret: secret } : {}),
          custom_headers: Object.fromEntries(
            headers.filter((h) => h.name.trim()).map((h) => [h.name.trim(), h.value]),
          ),
          disabled: !enabled,
          ...(channel?.metadata ? { metadata: channel.metadata } : {}),
        };
        return channel
          ? unwrap(
              api.PUT('/v3/openmeter/notification/channels/{id}', {
                params: { path: { id: channel.id } },
                body,
              }),
            )
          : unwrap(api.POST('/v3/openmeter/notification/channels', { body }));
      },
      onSuccess: async (c) => {
        await qc.invalidateQueries({ queryKey: ['notification-channels'] });
        onClose();
        // a secret Tally generated is shown once; one the user typed they know
        if (!channel && !secret && c.signing_secret) onCreated(c);
      },
    },
  );
  const f = save.errors.field;
  return (
    <Modal
      opened
      onClose={onClose}
      title={channel ? `Edit channel ${channel.name}` : 'Create channel'}
      size="lg"
    >
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
            label="Webhook URL"
            description="http(s); private, loopback and link-local addresses are refused unless the operator allows the host"
            required
            value={url}
            onChange={(e) => setUrl(e.currentTarget.value)}
            error={f('url')}
          />
          <SecretInput
            label="Signing secret"
            description={
              channel
                ? 'Write-only. Empty: keep the current secret.'
                : 'Optional (whsec_… or 32–100 base64 characters). Empty: Tally generates one and shows it once.'
            }
            value={secret}
            onChange={(e) => setSecret(e.currentTarget.value)}
            error={f('signing_secret')}
          />
          <Stack gap={4}>
            <Text size="sm" fw={500}>
              Custom headers
            </Text>
            {headers.map((h, i) => (
              <Group key={i} gap="xs" align="flex-start">
                <TextInput
                  aria-label={`Header ${i + 1} name`}
                  placeholder="name, e.g. x-tenant"
                  value={h.name}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setHeaders((hs) => hs.map((x, j) => (j === i ? { ...x, name: v } : x)));
                  }}
                  error={h.name.trim() ? f(`custom_headers.${h.name.trim()}`) : undefined}
                />
                <TextInput
                  aria-label={`Header ${i + 1} value`}
                  placeholder="value"
                  value={h.value}
                  onChange={(e) => {
                    const v = e.currentTarget.value;
                    setHeaders((hs) => hs.map((x, j) => (j === i ? { ...x, value: v } : x)));
                  }}
                />
                <ActionIcon
                  variant="subtle"
                  color="red"
                  aria-label={`Remove header ${i + 1}`}
                  onClick={() => setHeaders((hs) => hs.filter((_, j) => j !== i))}
                  mt={6}
                >
                  ×
                </ActionIcon>
              </Group>
            ))}
            <GroupError
              error={
                f('custom_headers') &&
                !headers.some((h) => h.name.trim() && f(`custom_headers.${h.name.trim()}`))
                  ? f('custom_headers')
                  : undefined
              }
            />
            <Button
              variant="light"
              size="xs"
              w="fit-content"
              onClick={() => setHeaders((hs) => [...hs, { name: '', value: '' }])}
            >
              Add header
            </Button>
          </Stack>
          <Checkbox
            label="Enabled (a disabled channel receives nothing; its unfinished deliveries stop)"
            checked={enabled}
            onChange={(e) => setEnabled(e.currentTarget.checked)}
            error={f('disabled')}
          />
          <FormFooter
            error={save.errors.other}
            onCancel={onClose}
            submit="Save channel"
            busy={save.isPending}
          />
        </Stack>
      </form>
    </Modal>
  );
}

/* ---------- rules ---------- */

function RulesSection() {
  const qc = useQueryClient();
  const [editing, setEditing] = useState<Rule | 'new' | null>(null);
  const [deleting, setDeleting] = useState<Rule | null>(null);
  const remove = useApiForm<unknown, Rule>([], {
    mutationFn: (r) =>
      unwrap(api.DELETE('/v3/openmeter/notification/rules/{id}', { params: { path: { id: r.id } } })),
    onSuccess: async () => {
      setDeleting(null);
      await qc.invalidateQueries({ queryKey: ['notification-rules'] });
    },
  });
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs">
        <Title order={3} size="h4">
          Rules
        </Title>
        <Button size="xs" onClick={() => setEditing('new')}>
          Create rule
        </Button>
      </Group>
      <Text size="xs" c="dimmed" mb="xs">
        A rule sends the events of one type (for entitlements: of some features, at thresholds) to its
        channels.
      </Text>
      <PagedTable
        queryKey={['notification-rules', 'page']}
        fetchPage={(p) =>
          unwrap(
            api.GET('/v3/openmeter/notification/rules', {
              params: { query: { 'page[size]': p.size, 'page[number]': p.number } },
            }),
          )
        }
        label="Rules"
        what="rules"
        empty="No rules yet: a rule says which events go to which channels."
        minWidth={760}
        rowKey={(r) => r.id}
        columns={[
          { header: 'Name', cell: (r) => r.name },
          { header: 'Event type', cell: (r) => typeLabel(r.type) },
          { header: 'Channels', cell: (r) => r.channels.map((c) => c.name).join(', ') },
          {
            header: 'Features / thresholds',
            cell: (r) =>
              [
                r.features?.length ? `features ${r.features.join(', ')}` : '',
                r.thresholds?.length
                  ? `at ${r.thresholds.map((t) => (t.type === 'percent' ? `${t.value}%` : t.value)).join(', ')}`
                  : '',
              ]
                .filter(Boolean)
                .join('; ') || '—',
          },
          {
            header: 'Status',
            cell: (r) => (
              <Badge color={r.disabled ? 'gray' : 'green'}>{r.disabled ? 'disabled' : 'enabled'}</Badge>
            ),
          },
          {
            header: 'Actions',
            cell: (r) => (
              <Group gap={4} wrap="nowrap">
                <Button
                  size="xs"
                  variant="default"
                  aria-label={`Edit ${r.name}`}
                  onClick={() => setEditing(r)}
                >
                  Edit
                </Button>
                <Button
                  size="xs"
                  variant="subtle"
                  color="red"
                  aria-label={`Delete ${r.name}`}
                  onClick={() => {
                    remove.reset();
                    setDeleting(r);
                  }}
                >
                  Delete
                </Button>
              </Group>
            ),
          },
        ]}
      />
      {editing && (
        <RuleForm rule={editing === 'new' ? undefined : editing} onClose={() => setEditing(null)} />
      )}
      <Modal
        opened={deleting !== null}
        onClose={() => setDeleting(null)}
        title={`Delete ${deleting?.name ?? ''}?`}
      >
        <Stack>
          <Text size="sm">Events already recorded keep their deliveries.</Text>
          <ErrorMessage error={remove.errors.other} title="Not deleted" />
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setDeleting(null)}>
              Keep it
            </Button>
            <Button
              color="red"
              loading={remove.isPending}
              onClick={() => deleting && remove.mutate(deleting)}
            >
              Delete rule
            </Button>
          </Group>
        </Stack>
      </Modal>
    </Card>
  );
}

interface ThresholdRow {
  type: 'percent' | 'number';
  value: string;
}

function RuleForm({ rule, onClose }: { rule?: Rule; onClose: () => void }) {
  const qc = useQueryClient();
  const channels = useChannels();
  const features = useQuery({
    queryKey: ['features', 'all'],
    queryFn: () => unwrap(api.GET('/v3/openmeter/features', { params: { query: { 'page[size]': 1000 } } })),
  });
  const [name, setName] = useState(rule?.name ?? '');
  const [type, setType] = useState<EventType | null>(rule?.type ?? null);
  const [channelIds, setChannelIds] = useState<string[]>(rule?.channels.map((c) => c.id) ?? []);
  const [featureKeys, setFeatureKeys] = useState<string[]>(rule?.features ?? []);
  const [thresholds, setThresholds] = useState<ThresholdRow[]>(
    rule?.thresholds?.map((t) => ({ type: t.type, value: t.value })) ?? [],
  );
  const [enabled, setEnabled] = useState(!(rule?.disabled ?? false));
  const entitlements = type?.startsWith('entitlements.') ?? false;
  const withThresholds = type === 'entitlements.balance.threshold';
  const save = useApiForm(
    [
      'type',
      'name',
      'channels',
      'features',
      'thresholds',
      ...thresholds.flatMap((_, i) => [`thresholds[${i}].type`, `thresholds[${i}].value`]),
      'disabled',
      'metadata',
    ],
    {
      mutationFn: () => {
        const body: Schemas['NotificationRuleCreate'] = {
          type: type ?? ('' as EventType),
          name,
          channels: channelIds,
          disabled: !enabled,
          ...(entitlements && featureKeys.length ? { features: featureKeys } : {}),
          ...(withThresholds
            ? { thresholds: thresholds.map((t) => ({ type: t.type, value: t.value.trim() })) }
            : {}),
          ...(rule?.metadata ? { metadata: rule.metadata } : {}),
        };
        return rule
          ? unwrap(
              api.PUT('/v3/openmeter/notification/rules/{id}', { params: { path: { id: rule.id } }, body }),
            )
          : unwrap(api.POST('/v3/openmeter/notification/rules', { body }));
      },
      onSuccess: async () => {
        await qc.invalidateQueries({ queryKey: ['notification-rules'] });
        onClose();
      },
    },
  );
  const f = save.errors.field;
  return (
    <Modal opened onClose={onClose} title={rule ? `Edit rule ${rule.name}` : 'Create rule'} size="lg">
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
          <Select
            label="Event type"
            description={rule ? 'A rule keeps its event type.' : undefined}
            required
            data={EVENT_TYPES}
            value={type}
            onChange={(v) => setType(v)}
            disabled={!!rule}
            error={f('type')}
          />
          <MultiSelect
            label="Channels"
            required
            placeholder={
              channels.isPending ? 'Loading channels…' : channelIds.length ? undefined : 'Pick channels'
            }
            data={(channels.data?.data ?? []).map((c) => ({
              value: c.id,
              label: c.disabled ? `${c.name} (disabled)` : c.name,
            }))}
            value={channelIds}
            onChange={setChannelIds}
            error={f('channels')}
          />
          {entitlements && (
            <MultiSelect
              label="Features"
              description="Empty: every feature"
              data={(features.data?.data ?? []).map((x) => ({ value: x.key, label: x.name }))}
              value={featureKeys}
              onChange={setFeatureKeys}
              searchable
              error={f('features')}
            />
          )}
          {withThresholds && (
            <Stack gap={4}>
              <Text size="sm" fw={500}>
                Thresholds
              </Text>
              {thresholds.map((t, i) => (
                <Group key={i} gap="xs" align="flex-start">
                  <Select
                    aria-label={`Threshold ${i + 1} kind`}
                    data={[
                      { value: 'percent', label: '% of the limit' },
                      { value: 'number', label: 'usage' },
                    ]}
                    value={t.type}
                    allowDeselect={false}
                    onChange={(v) =>
                      setThresholds((ts) => ts.map((x, j) => (j === i ? { ...x, type: v ?? 'percent' } : x)))
                    }
                    error={f(`thresholds[${i}].type`)}
                  />
                  <TextInput
                    aria-label={`Threshold ${i + 1} value`}
                    placeholder={t.type === 'percent' ? '80' : '1000'}
                    value={t.value}
                    onChange={(e) => {
                      const v = e.currentTarget.value;
                      setThresholds((ts) => ts.map((x, j) => (j === i ? { ...x, value: v } : x)));
                    }}
                    error={f(`thresholds[${i}].value`)}
                  />
                  <ActionIcon
                    variant="subtle"
                    color="red"
                    aria-label={`Remove threshold ${i + 1}`}
                    onClick={() => setThresholds((ts) => ts.filter((_, j) => j !== i))}
                    mt={6}
                  >
                    ×
                  </ActionIcon>
                </Group>
              ))}
              <GroupError error={f('thresholds')} />
              <Button
                variant="light"
                size="xs"
                w="fit-content"
                onClick={() => setThresholds((ts) => [...ts, { type: 'percent', value: '' }])}
              >
                Add threshold
              </Button>
            </Stack>
          )}
          <Checkbox
            label="Enabled"
            checked={enabled}
            onChange={(e) => setEnabled(e.currentTarget.checked)}
            error={f('disabled')}
          />
          <FormFooter error={save.errors.other} onCancel={onClose} submit="Save rule" busy={save.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}

/* ---------- events ---------- */

function DeliveryBadges({ deliveries }: { deliveries: Delivery[] }) {
  return (
    <Group gap={4}>
      {deliveries.map((d) => (
        <Badge key={d.channel.id} color={STATE_COLOR[d.state] ?? 'gray'} variant="light">
          {d.channel.name}: {d.state}
        </Badge>
      ))}
    </Group>
  );
}

function EventsSection() {
  const [type, setType] = useState<EventType | null>(null);
  return (
    <Card withBorder>
      <Group justify="space-between" mb="xs" align="flex-end">
        <Title order={3} size="h4">
          Events
        </Title>
        <Select
          label="Event type"
          size="xs"
          w={240}
          placeholder="All types"
          clearable
          data={EVENT_TYPES}
          value={type}
          onChange={(v) => setType(v)}
        />
      </Group>
      <Text size="xs" c="dimmed" mb="xs">
        Newest first; each with its deliveries, one per channel (refreshed every few seconds).
      </Text>
      <PagedTable
        queryKey={['notification-events', type ?? 'all']}
        fetchPage={(p) =>
          unwrap(
            api.GET('/v3/openmeter/notification/events', {
              params: {
                query: {
                  'page[size]': p.size,
                  'page[number]': p.number,
                  ...(type ? { 'filter[type]': type } : {}),
                },
              },
            }),
          )
        }
        refetchInterval={3000}
        label="Notification events"
        what="events"
        empty="No events yet: they are recorded when a rule matches."
        minWidth={760}
        rowKey={(e) => e.id}
        columns={[
          {
            header: 'Created',
            cell: (e) => (
              <Anchor component={Link} to={`/settings/notifications/events/${e.id}`}>
                {when(e.created_at)}
              </Anchor>
            ),
          },
          { header: 'Type', cell: (e) => typeLabel(e.type) },
          { header: 'Rule', cell: (e) => e.rule.name },
          { header: 'Deliveries', cell: (e) => <DeliveryBadges deliveries={e.delivery_status} /> },
        ]}
      />
    </Card>
  );
}

export function NotificationEventPage() {
  const { eventId = '' } = useParams();
  const qc = useQueryClient();
  const event = useQuery({
    queryKey: ['notification-events', 'one', eventId],
    queryFn: () =>
      unwrap(api.GET('/v3/openmeter/notification/events/{id}', { params: { path: { id: eventId } } })),
    refetchInterval: 3000,
  });
  const resend = useMutation({
    mutationFn: (channelId?: string) =>
      unwrap(
        api.POST('/v3/openmeter/notification/events/{id}/resend', {
          params: { path: { id: eventId } },
          ...(channelId ? { body: { channels: [channelId] } } : { body: {} }),
        }),
      ),
    onSuccess: () => qc.invalidateQueries({ queryKey: ['notification-events'] }),
  });
  if (event.isPending) return <Loading what="the event" />;
  if (event.error) return <ErrorMessage error={event.error} />;
  const e = event.data;
  return (
    <Stack>
      <Anchor component={Link} to="/settings/notifications/events" size="sm">
        ← Notification events
      </Anchor>
      <Group justify="space-between">
        <Title order={2}>Event {typeLabel(e.type)}</Title>
        <Button
          loading={resend.isPending && resend.variables === undefined}
          onClick={() => resend.mutate(undefined)}
        >
          Resend
        </Button>
      </Group>
      <ErrorMessage error={resend.error} title="Not resent" />
      {resend.isSuccess && (
        <Text size="sm" role="status">
          Resent: the deliveries start again, with the same webhook-id.
        </Text>
      )}
      <SimpleGrid cols={{ base: 1, sm: 4 }}>
        <Item label="Event ID (webhook-id)">
          <Code>{e.id}</Code>
        </Item>
        <Item label="Type">
          <Code>{e.type}</Code>
        </Item>
        <Item label="Created">{when(e.created_at)}</Item>
        <Item label="Rule">{e.rule.name}</Item>
      </SimpleGrid>
      <Title order={3} size="h4">
        Deliveries
      </Title>
      <Table.ScrollContainer minWidth={860}>
        <Table aria-label="Deliveries">
          <Table.Thead>
            <Table.Tr>
              <Table.Th>Channel</Table.Th>
              <Table.Th>State</Table.Th>
              <Table.Th>Attempts</Table.Th>
              <Table.Th>Last response</Table.Th>
              <Table.Th>Next attempt</Table.Th>
              <Table.Th>Updated</Table.Th>
              <Table.Th>Actions</Table.Th>
            </Table.Tr>
          </Table.Thead>
          <Table.Tbody>
            {e.delivery_status.map((d) => (
              <Fragment key={d.channel.id}>
                <Table.Tr>
                  <Table.Td>{d.channel.name}</Table.Td>
                  <Table.Td>
                    <Badge color={STATE_COLOR[d.state] ?? 'gray'}>{d.state}</Badge>
                    {d.reason && (
                      <Text size="xs" c="dimmed">
                        {d.reason}
                      </Text>
                    )}
                  </Table.Td>
                  <Table.Td>{d.attempt_count}</Table.Td>
                  <Table.Td>
                    {d.last_response ? (
                      <>
                        {d.last_response.status_code !== undefined
                          ? `HTTP ${d.last_response.status_code}`
                          : '—'}
                        {d.last_response.body && (
                          <Text size="xs" c="dimmed" style={{ wordBreak: 'break-all' }}>
                            {d.last_response.body}
                          </Text>
                        )}
                      </>
                    ) : (
                      '—'
                    )}
                  </Table.Td>
                  <Table.Td>{when(d.next_attempt)}</Table.Td>
                  <Table.Td>{when(d.updated_at)}</Table.Td>
                  <Table.Td>
                    <Button
                      size="xs"
                      variant="default"
                      aria-label={`Resend to ${d.channel.name}`}
                      loading={resend.isPending && resend.variables === d.channel.id}
                      onClick={() => resend.mutate(d.channel.id)}
                    >
                      Resend
                    </Button>
                  </Table.Td>
                </Table.Tr>
                {d.attempts.map((a, i) => (
                  <Table.Tr key={`${d.channel.id}-${i}`} aria-label={`Attempt of ${d.channel.name}`}>
                    <Table.Td pl="lg">↳ attempt {d.attempt_count - d.attempts.length + i + 1}</Table.Td>
                    <Table.Td>
                      <Badge size="sm" variant="light" color={STATE_COLOR[a.state] ?? 'gray'}>
                        {a.state}
                      </Badge>
                    </Table.Td>
                    <Table.Td>{when(a.timestamp)}</Table.Td>
                    <Table.Td colSpan={4}>
                      {[
                        a.response.status_code !== undefined ? `HTTP ${a.response.status_code}` : '',
                        a.response.duration_ms !== undefined ? `${a.response.duration_ms} ms` : '',
                        a.response.error ?? '',
                      ]
                        .filter(Boolean)
                        .join(', ') || '—'}
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Fragment>
            ))}
          </Table.Tbody>
        </Table>
      </Table.ScrollContainer>
      <Title order={3} size="h4">
        Payload
      </Title>
      <Code block aria-label="Payload" style={{ maxHeight: 360, overflow: 'auto' }}>
        {JSON.stringify(e.payload, null, 2)}
      </Code>
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
