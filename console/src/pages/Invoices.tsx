/**
 * Invoices: the customer's Invoicing tab (preview, the invoices) and the invoice page, which follows the
 * invoice's lifecycle: the buttons are the actions `status_details.available_actions` lists, no more.
 */
import {
  Anchor,
  Badge,
  Button,
  Card,
  Code,
  Group,
  Modal,
  SimpleGrid,
  Stack,
  Table,
  Text,
  Textarea,
  TextInput,
  Title,
} from '@mantine/core';
import { useMutation, useQuery, useQueryClient } from '@tanstack/react-query';
import { Fragment, useState, type FormEvent } from 'react';
import { Link, useNavigate, useParams } from 'react-router-dom';
import { api, ApiError, session, unwrap, type Schemas } from '../api/client';
import { invoiceWorkflowUrl, money, when } from '../lib/format';
import { ErrorMessage, FormFooter, GroupError, Loading, Pager, useApiForm } from '../lib/ui';

type Customer = Schemas['BillingCustomer'];
type Invoice = Schemas['Invoice'];
type Line = Schemas['InvoiceLine'];
type Actions = Schemas['InvoiceAvailableActions'];
type Action = keyof Actions;

const PAGE = 20;

const INVOICE_COLOR: Record<string, string> = {
  draft: 'gray',
  issuing: 'cyan',
  issued: 'blue',
  payment_processing: 'blue',
  paid: 'green',
  overdue: 'orange',
  uncollectible: 'red',
  voided: 'dark',
  deleted: 'dark',
  preview: 'yellow',
};

function StatusBadge({ invoice: inv }: { invoice: Invoice }) {
  const ext = inv.status_details?.extended_status;
  return (
    <Group gap={6} wrap="nowrap">
      <Badge color={INVOICE_COLOR[inv.status] ?? 'gray'}>{inv.status.replace('_', ' ')}</Badge>
      {ext && ext !== inv.status && (
        <Text size="xs" c={inv.status_details?.failed ? 'red' : 'dimmed'}>
          {ext}
        </Text>
      )}
    </Group>
  );
}

export function InvoicingTab({ customer }: { customer: Customer }) {
  const [page, setPage] = useState(1);
  const [previewing, setPreviewing] = useState(false);
  const preview = useQuery({
    queryKey: ['invoice-preview', customer.id],
    enabled: previewing,
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/customers/{customerId}/invoices/preview', {
          params: { path: { customerId: customer.id } },
        }),
      ),
  });
  const invoices = useQuery({
    queryKey: ['invoices', customer.id, page],
    queryFn: () =>
      unwrap(
        api.GET('/v3/openmeter/billing/invoices', {
          params: {
            query: {
              'filter[customer_id]': customer.id,
              'page[size]': PAGE,
              'page[number]': page,
              sort: 'created_at desc',
            },
          },
        }),
      ),
  });
  return (
    <Stack>
      <Group justify="space-between">
        <Text c="dimmed" size="sm">
          The preview shows what the open period would bill if it closed now.
        </Text>
        <Button
          onClick={() => {
            if (previewing) void preview.refetch();
            setPreviewing(true);
          }}
          loading={preview.isFetching}
        >
          Preview Invoice
        </Button>
      </Group>
      {previewing && preview.isPending && <Loading what="the preview" />}
      <ErrorMessage error={preview.error} title="No preview" />
      {preview.data && (
        <Card withBorder aria-label="Invoice preview">
          <InvoiceBody invoice={preview.data} />
        </Card>
      )}
      <Group justify="space-between">
        <Title order={3} size="h4">
          Invoices
        </Title>
        <Button
          variant="default"
          size="xs"
          onClick={() => void invoices.refetch()}
          loading={invoices.isFetching}
        >
          Refresh
        </Button>
      </Group>
      {invoices.isPending && <Loading what="invoices" />}
      <ErrorMessage error={invoices.error} />
      {invoices.data && (
        <>
          {invoices.data.data.length === 0 ? (
            <Text c="dimmed" size="sm">
              No invoices yet: the subscription issues one when a period has ended.
            </Text>
          ) : (
            <InvoiceTable invoices={invoices.data.data} />
          )}
          <Pager page={page} size={PAGE} total={invoices.data.meta.page?.total ?? 0} onPage={setPage} />
        </>
      )}
    </Stack>
  );
}

function InvoiceTable({ invoices }: { invoices: Invoice[] }) {
  return (
    <Table.ScrollContainer minWidth={760}>
      <Table striped highlightOnHover aria-label="Invoices">
        <Table.Thead>
          <Table.Tr>
            <Table.Th>Number</Table.Th>
            <Table.Th>Status</Table.Th>
            <Table.Th>Period</Table.Th>
            <Table.Th>Created</Table.Th>
            <Table.Th>Issued</Table.Th>
            <Table.Th>Due</Table.Th>
            <Table.Th>Total</Table.Th>
          </Table.Tr>
        </Table.Thead>
        <Table.Tbody>
          {invoices.map((inv) => (
            <Table.Tr key={inv.id}>
              <Table.Td>
                <Anchor component={Link} to={`/billing/invoices/${inv.id}`}>
                  {inv.number ?? inv.id}
                </Anchor>
              </Table.Td>
              <Table.Td>
                <StatusBadge invoice={inv} />
              </Table.Td>
              <Table.Td>
                {when(inv.service_period.from)} – {when(inv.service_period.to)}
              </Table.Td>
              <Table.Td>{when(inv.created_at)}</Table.Td>
              <Table.Td>{when(inv.issued_at)}</Table.Td>
              <Table.Td>{when(inv.due_at)}</Table.Td>
              <Table.Td>{money(inv.totals.total, inv.currency)}</Table.Td>
            </Table.Tr>
          ))}
        </Table.Tbody>
      </Table>
    </Table.ScrollContainer>
  );
}

/** a detailed line is worth its own row when the line has several (tiers, a tier's flat price) */
function detailRows(l: Line) {
  const d = l.detailed_lines ?? [];
  return d.length > 1 || d.some((x) => x.tier_index !== undefined) ? d : [];
}

function InvoiceBody({ invoice: inv }: { invoice: Invoice }) {
  const lines = inv.lines ?? [];
  const t = inv.totals;
  const nonZero = (v: string | undefined) => v !== undefined && Number(v) !== 0;
  return (
    <Stack>
      <Group justify="space-between" wrap="wrap">
        <Group>
          <Title order={3} size="h4">
            {inv.status === 'preview' ? 'Preview' : `Invoice ${inv.number ?? ''}`}
          </Title>
          <StatusBadge invoice={inv} />
        </Group>
        <Text fw={600}>Total {money(t.total, inv.currency)}</Text>
      </Group>
      <Text size="sm" c="dimmed">
        {inv.customer.name} · service period {when(inv.service_period.from)} – {when(inv.service_period.to)}
        {inv.issued_at ? ` · issued ${when(inv.issued_at)}` : ''}
      </Text>
      {inv.description && <Text size="sm">{inv.description}</Text>}
      <Title order={4} size="h5">
        Lines
      </Title>
      {lines.length === 0 ? (
        <Text c="dimmed" size="sm">
          No lines.
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={600}>
          <Table striped aria-label="Lines">
            <Table.Thead>
              <Table.Tr>
                <Table.Th>Line</Table.Th>
                <Table.Th>Feature</Table.Th>
                <Table.Th>Quantity</Table.Th>
                <Table.Th>Unit price</Table.Th>
                <Table.Th>Period</Table.Th>
                <Table.Th>Total</Table.Th>
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {lines.map((l, i) => (
                <Fragment key={l.id ?? i}>
                  <Table.Tr>
                    <Table.Td>
                      {l.name}
                      {l.lifecycle_controller === 'manual' && (
                        <Badge ml="xs" size="xs" variant="light">
                          manual
                        </Badge>
                      )}
                    </Table.Td>
                    <Table.Td>{l.feature_key ?? '—'}</Table.Td>
                    <Table.Td data-label="quantity">{l.quantity}</Table.Td>
                    <Table.Td>{l.unit_price ?? '—'}</Table.Td>
                    <Table.Td>
                      {when(l.service_period.from)} – {when(l.service_period.to)}
                    </Table.Td>
                    <Table.Td>{money(l.totals.total, inv.currency)}</Table.Td>
                  </Table.Tr>
                  {detailRows(l).map((d, j) => (
                    <Table.Tr key={`${l.id ?? i}-${j}`} aria-label={`Detail of ${l.name}`}>
                      <Table.Td pl="xl">
                        <Text size="sm" c="dimmed">
                          ↳ {d.name ?? `tier ${(d.tier_index ?? j) + 1}`}
                        </Text>
                      </Table.Td>
                      <Table.Td />
                      <Table.Td>{d.quantity ?? '—'}</Table.Td>
                      <Table.Td>{d.unit_price ?? '—'}</Table.Td>
                      <Table.Td />
                      <Table.Td>{money(d.totals?.total, inv.currency)}</Table.Td>
                    </Table.Tr>
                  ))}
                </Fragment>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Group justify="flex-end" gap="xl" aria-label="Totals">
        <Text size="sm">Subtotal {money(t.amount, inv.currency)}</Text>
        {nonZero(t.discounts_total) && (
          <Text size="sm">Discounts {money(t.discounts_total, inv.currency)}</Text>
        )}
        <Text size="sm">Taxes {money(t.taxes_total, inv.currency)}</Text>
        {nonZero(t.credits_total) && <Text size="sm">Credits {money(t.credits_total, inv.currency)}</Text>}
        <Text size="sm" fw={600}>
          Total {money(t.total, inv.currency)}
        </Text>
      </Group>
    </Stack>
  );
}

/** the lifecycle actions, in the order their buttons show; `edit` and `delete` have their own buttons */
const ACTIONS: { name: Action; label: string; confirm?: string }[] = [
  { name: 'approve', label: 'Approve' },
  { name: 'advance', label: 'Advance' },
  { name: 'retry', label: 'Retry' },
  { name: 'snapshot_quantities', label: 'Snapshot quantities' },
  { name: 'mark_paid', label: 'Mark paid' },
  { name: 'mark_uncollectible', label: 'Mark uncollectible' },
  {
    name: 'void',
    label: 'Void',
    confirm: 'A voided invoice is final: the customer owes nothing on it and its number stays used.',
  },
  { name: 'delete', label: 'Delete', confirm: 'The draft is deleted; its usage is not billed by it.' },
];

/** an invoice its workflow is moving on (issuing it, handing it to the payment app), not waiting for a user */
function movesOnItsOwn(inv: Invoice): boolean {
  return !inv.status_details?.failed && (inv.status === 'issuing' || inv.status === 'issued');
}

function runAction(invoiceId: string, name: Action): Promise<Invoice | undefined> {
  const p = { params: { path: { invoiceId } } };
  const B = '/v3/openmeter/billing/invoices/{invoiceId}' as const;
  switch (name) {
    case 'approve':
      return unwrap(api.POST(`${B}/approve`, p));
    case 'advance':
      return unwrap(api.POST(`${B}/advance`, p));
    case 'retry':
      return unwrap(api.POST(`${B}/retry`, p));
    case 'snapshot_quantities':
      return unwrap(api.POST(`${B}/snapshot-quantities`, p));
    case 'void':
      return unwrap(api.POST(`${B}/void`, p));
    case 'mark_paid':
      return unwrap(api.POST(`${B}/mark-paid`, p));
    case 'mark_uncollectible':
      return unwrap(api.POST(`${B}/mark-uncollectible`, p));
    case 'delete':
      return api.DELETE(B, p).then(({ error, response }) => {
        if (!response.ok) throw new ApiError(response.status, error as Schemas['Problem'] | undefined);
        return undefined;
      });
    case 'edit':
      throw new Error('edit has its own form');
  }
}

/** fetches a document with the session's token (the API wants a bearer token, a plain link cannot send it) */
async function fetchDocument(invoiceId: string, kind: 'pdf' | 'html'): Promise<Blob> {
  const res = await fetch(`/v3/openmeter/billing/invoices/${encodeURIComponent(invoiceId)}/${kind}`, {
    headers: { Authorization: `Bearer ${session.token() ?? ''}` },
  });
  if (!res.ok) {
    const body: unknown = res.headers.get('content-type')?.includes('json') ? await res.json() : undefined;
    throw new ApiError(res.status, body as Schemas['Problem'] | undefined);
  }
  return res.blob();
}

function Party({ title, party }: { title: string; party: Record<string, unknown> | undefined }) {
  const p = (party ?? {}) as {
    name?: string;
    key?: string;
    email?: string;
    primary_email?: string;
    tax_id?: { code?: string };
    billing_address?: Record<string, string>;
    addresses?: { billing_address?: Record<string, string> };
  };
  const a = p.billing_address ?? p.addresses?.billing_address ?? {};
  const address = [a.line1, a.line2, [a.postal_code, a.city].filter(Boolean).join(' '), a.state, a.country]
    .filter(Boolean)
    .join(', ');
  return (
    <Card withBorder aria-label={title}>
      <Text size="xs" c="dimmed">
        {title}
      </Text>
      {p.name || p.key ? (
        <>
          <Text fw={500}>{p.name ?? p.key}</Text>
          {(p.email ?? p.primary_email) && <Text size="sm">{p.email ?? p.primary_email}</Text>}
          {p.tax_id?.code && <Text size="sm">Tax ID {p.tax_id.code}</Text>}
          {address && <Text size="sm">{address}</Text>}
        </>
      ) : (
        <Text size="sm" c="dimmed">
          not set (the billing profile has no supplier)
        </Text>
      )}
    </Card>
  );
}

export function InvoicePage() {
  const { invoiceId = '' } = useParams();
  const qc = useQueryClient();
  const navigate = useNavigate();
  const [docError, setDocError] = useState<unknown>(null);
  const [confirming, setConfirming] = useState<Action | null>(null);
  const [editing, setEditing] = useState(false);
  const invoice = useQuery({
    queryKey: ['invoice', invoiceId],
    queryFn: () =>
      unwrap(api.GET('/v3/openmeter/billing/invoices/{invoiceId}', { params: { path: { invoiceId } } })),
    // issuing and the payment hand-over run by themselves: follow them until the invoice settles
    refetchInterval: (q) => (q.state.data && movesOnItsOwn(q.state.data) ? 1500 : false),
  });
  const act = useMutation({
    mutationFn: (name: Action) => runAction(invoiceId, name),
    onMutate: () => setConfirming(null),
    onSuccess: async (inv, name) => {
      await qc.invalidateQueries({ queryKey: ['invoices'] });
      if (name === 'delete') {
        const c = invoice.data?.customer.id;
        void navigate(c ? `/billing/customers/${c}/invoicing` : '/billing');
      } else if (inv) qc.setQueryData(['invoice', invoiceId], inv);
    },
    // a refused action (409): the invoice moved on since the page loaded; show the problem and the invoice as it is
    onError: () => void qc.invalidateQueries({ queryKey: ['invoice', invoiceId] }),
  });
  if (invoice.isPending) return <Loading what="the invoice" />;
  if (invoice.error) return <ErrorMessage error={invoice.error} />;
  const inv = invoice.data;
  const available = inv.status_details?.available_actions ?? {};
  const shown = ACTIONS.filter((a) => a.name in available);
  const pending = confirming ? ACTIONS.find((a) => a.name === confirming) : undefined;
  const openDocument = async (kind: 'pdf' | 'html') => {
    setDocError(null);
    try {
      const url = URL.createObjectURL(await fetchDocument(invoiceId, kind));
      if (kind === 'html') {
        window.open(url, '_blank', 'noopener');
      } else {
        const a = document.createElement('a');
        a.href = url;
        a.download = `${inv.number ?? inv.id}.pdf`;
        a.click();
      }
      setTimeout(() => URL.revokeObjectURL(url), 60_000);
    } catch (e) {
      setDocError(e);
    }
  };
  const refused = act.error instanceof ApiError && act.error.status === 409;
  return (
    <Stack>
      <Anchor
        component={Link}
        to={inv.customer.id ? `/billing/customers/${inv.customer.id}/invoicing` : '/billing'}
        size="sm"
      >
        ← {inv.customer.name ?? 'Customer'}
      </Anchor>
      <Group gap="xs" aria-label="Invoice actions" role="group">
        {shown.map((a) => (
          <Button
            key={a.name}
            variant={a.name === 'delete' || a.name === 'void' ? 'outline' : 'filled'}
            color={a.name === 'delete' || a.name === 'void' ? 'red' : undefined}
            loading={act.isPending && act.variables === a.name}
            disabled={act.isPending}
            onClick={() => (a.confirm ? setConfirming(a.name) : act.mutate(a.name))}
          >
            {a.label}
          </Button>
        ))}
        {'edit' in available && (
          <Button variant="default" onClick={() => setEditing(true)}>
            Edit draft
          </Button>
        )}
        {inv.id && (
          <>
            <Button variant="default" onClick={() => void openDocument('pdf')}>
              Download PDF
            </Button>
            <Button variant="default" onClick={() => void openDocument('html')}>
              Open HTML
            </Button>
            <Button
              component="a"
              variant="subtle"
              href={invoiceWorkflowUrl(inv.id)}
              target="_blank"
              rel="noreferrer"
            >
              Workflow in Temporal UI
            </Button>
          </>
        )}
      </Group>
      {shown.length === 0 && !('edit' in available) && (
        <Text size="sm" c="dimmed">
          No action is available while the invoice is {inv.status_details?.extended_status ?? inv.status}.
        </Text>
      )}
      <ErrorMessage error={act.error} title={refused ? 'The invoice refused the action' : undefined} />
      <ErrorMessage error={docError} title="No document" />
      {inv.failure?.message && (
        <ErrorMessage
          error={`${inv.failure.step ?? 'a step'} failed${inv.failure.at ? ` at ${when(inv.failure.at)}` : ''}: ${inv.failure.message}`}
          title="The last step failed"
        />
      )}
      <SimpleGrid cols={{ base: 1, sm: 2 }}>
        <Party title="Supplier" party={inv.supplier} />
        <Party title="Customer" party={inv.customer} />
      </SimpleGrid>
      <Card withBorder>
        <SimpleGrid cols={{ base: 2, sm: 4 }} mb="md" aria-label="Dates">
          <Dated label="Created" at={inv.created_at} />
          {inv.status === 'draft' && <Dated label="Draft until" at={inv.draft_until} />}
          <Dated label="Issued" at={inv.issued_at} />
          <Dated label="Due" at={inv.due_at} />
          {inv.paid_at && <Dated label="Paid" at={inv.paid_at} />}
          {inv.voided_at && <Dated label="Voided" at={inv.voided_at} />}
          {inv.quantity_snapshotted_at && <Dated label="Quantities as of" at={inv.quantity_snapshotted_at} />}
          <div>
            <Text size="xs" c="dimmed">
              ID
            </Text>
            <Code>{inv.id}</Code>
          </div>
        </SimpleGrid>
        <InvoiceBody invoice={inv} />
      </Card>
      <Modal
        opened={pending !== undefined}
        onClose={() => setConfirming(null)}
        title={pending ? `${pending.label} invoice ${inv.number ?? ''}?` : ''}
      >
        <Stack>
          <Text size="sm">{pending?.confirm}</Text>
          <Group justify="flex-end">
            <Button variant="default" onClick={() => setConfirming(null)}>
              Keep it
            </Button>
            <Button color="red" onClick={() => pending && act.mutate(pending.name)}>
              {pending?.label} invoice
            </Button>
          </Group>
        </Stack>
      </Modal>
      {editing && <EditDraft invoice={inv} onClose={() => setEditing(false)} />}
    </Stack>
  );
}

function Dated({ label, at }: { label: string; at: string | null | undefined }) {
  return (
    <div>
      <Text size="xs" c="dimmed">
        {label}
      </Text>
      <Text size="sm">{when(at)}</Text>
    </div>
  );
}

interface ManualLine {
  id?: string;
  name: string;
  quantity: string;
  unit_price: string;
}

/** Edits a draft: its description and its manual lines (the subscription's lines are re-rated, not edited). */
function EditDraft({ invoice: inv, onClose }: { invoice: Invoice; onClose: () => void }) {
  const qc = useQueryClient();
  const [description, setDescription] = useState(inv.description ?? '');
  const [lines, setLines] = useState<ManualLine[]>(
    (inv.lines ?? [])
      .filter((l) => l.lifecycle_controller === 'manual')
      .map((l) => ({
        id: l.id ?? undefined,
        name: l.name,
        quantity: l.quantity,
        unit_price: l.unit_price ?? '',
      })),
  );
  const save = useApiForm(
    [
      'description',
      'lines',
      ...lines.flatMap((_, i) => ['name', 'quantity', 'unit_price', 'id'].map((f) => `lines[${i}].${f}`)),
    ],
    {
      mutationFn: () =>
        unwrap(
          api.PUT('/v3/openmeter/billing/invoices/{invoiceId}', {
            params: { path: { invoiceId: inv.id ?? '' } },
            body: {
              description: description.trim() ? description : null,
              lines: lines.map((l) => ({
                ...(l.id ? { id: l.id } : {}),
                name: l.name,
                quantity: l.quantity.trim(),
                unit_price: l.unit_price.trim(),
              })),
            },
          }),
        ),
      onSuccess: async (saved) => {
        qc.setQueryData(['invoice', inv.id], saved);
        await qc.invalidateQueries({ queryKey: ['invoices'] });
        onClose();
      },
    },
  );
  const errors = save.errors;
  const set = (i: number, patch: Partial<ManualLine>) =>
    setLines((ls) => ls.map((l, j) => (j === i ? { ...l, ...patch } : l)));
  return (
    <Modal opened onClose={onClose} title={`Edit draft ${inv.number ?? ''}`} size="lg">
      <form
        onSubmit={(e: FormEvent) => {
          e.preventDefault();
          save.mutate();
        }}
      >
        <Stack>
          <Textarea
            label="Description"
            data-autofocus
            value={description}
            onChange={(e) => setDescription(e.currentTarget.value)}
            error={errors.field('description')}
            autosize
            minRows={2}
          />
          <Text size="sm" fw={500}>
            Manual lines
          </Text>
          <Text size="xs" c="dimmed">
            Flat charges of quantity × unit price. The subscription&apos;s own lines are re-rated from the
            events and cannot be edited.
          </Text>
          {lines.map((l, i) => (
            <Group key={i} align="flex-start" wrap="wrap" aria-label={`Manual line ${i + 1}`} role="group">
              <TextInput
                label={`Line ${i + 1} name`}
                required
                value={l.name}
                onChange={(e) => set(i, { name: e.currentTarget.value })}
                error={errors.field(`lines[${i}].name`) ?? errors.field(`lines[${i}].id`)}
                style={{ flex: 2, minWidth: 160 }}
              />
              <TextInput
                label={`Line ${i + 1} quantity`}
                required
                value={l.quantity}
                onChange={(e) => set(i, { quantity: e.currentTarget.value })}
                error={errors.field(`lines[${i}].quantity`)}
                style={{ flex: 1, minWidth: 90 }}
              />
              <TextInput
                label={`Line ${i + 1} unit price`}
                required
                value={l.unit_price}
                onChange={(e) => set(i, { unit_price: e.currentTarget.value })}
                error={errors.field(`lines[${i}].unit_price`)}
                style={{ flex: 1, minWidth: 90 }}
              />
              <Button
                variant="subtle"
                color="red"
                mt={24}
                aria-label={`Remove line ${i + 1}`}
                onClick={() => setLines((ls) => ls.filter((_, j) => j !== i))}
              >
                Remove
              </Button>
            </Group>
          ))}
          <GroupError error={errors.field('lines')} />
          <Group>
            <Button
              variant="default"
              size="xs"
              onClick={() => setLines((ls) => [...ls, { name: '', quantity: '1', unit_price: '' }])}
            >
              Add line
            </Button>
          </Group>
          <FormFooter error={errors.other} onCancel={onClose} submit="Save draft" busy={save.isPending} />
        </Stack>
      </form>
    </Modal>
  );
}
