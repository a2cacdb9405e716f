import {
  Badge,
  Button,
  Code,
  Group,
  Modal,
  Stack,
  Table,
  Text,
  TextInput,
  Title,
  UnstyledButton,
} from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState, type FormEvent } from 'react';
import { api, unwrap, type Schemas } from '../api/client';
import { when } from '../lib/format';
import { ErrorMessage, Loading } from '../lib/ui';

interface Filters {
  subject: string;
  type: string;
  from: string;
  to: string;
}
const EMPTY: Filters = { subject: '', type: '', from: '', to: '' };
const PAGE = 50;

export function EventsPage() {
  const [draft, setDraft] = useState<Filters>(EMPTY);
  const [filters, setFilters] = useState<Filters>(EMPTY);
  // cursors of the pages before the current one (the API pages forward with page[after])
  const [cursors, setCursors] = useState<string[]>([]);
  const after = cursors[cursors.length - 1];
  const [open, setOpen] = useState<Schemas['MeteringIngestedEvent'] | null>(null);
  const events = useQuery({
    queryKey: ['events', filters, after],
    queryFn: () => {
      const time: Record<string, string> = {};
      if (filters.from) time.gte = new Date(filters.from).toISOString();
      if (filters.to) time.lt = new Date(filters.to).toISOString();
      return unwrap(
        api.GET('/v3/openmeter/events', {
          params: {
            query: {
              'page[size]': PAGE,
              ...(after ? { 'page[after]': after } : {}),
              ...(filters.subject ? { 'filter[subject]': filters.subject } : {}),
              ...(filters.type ? { 'filter[type]': filters.type } : {}),
              ...(Object.keys(time).length ? { 'filter[time]': time } : {}),
            },
          },
        }),
      );
    },
  });
  const apply = (e: FormEvent) => {
    e.preventDefault();
    setCursors([]);
    setFilters(draft);
  };
  const set = (k: keyof Filters) => (e: React.ChangeEvent<HTMLInputElement>) => {
    const v = e.currentTarget.value;
    setDraft((d) => ({ ...d, [k]: v }));
  };
  return (
    <Stack>
      <Title order={2}>Events</Title>
      <form onSubmit={apply} aria-label="Event filters">
        <Group align="flex-end" wrap="wrap" gap="xs">
          <TextInput label="Subject" value={draft.subject} onChange={set('subject')} />
          <TextInput label="Type" value={draft.type} onChange={set('type')} />
          <TextInput label="From" type="datetime-local" value={draft.from} onChange={set('from')} />
          <TextInput label="To" type="datetime-local" value={draft.to} onChange={set('to')} />
          <Button type="submit">Apply filters</Button>
          <Button
            variant="default"
            onClick={() => {
              setDraft(EMPTY);
              setFilters(EMPTY);
              setCursors([]);
            }}
          >
            Clear
          </Button>
        </Group>
      </form>
      {events.isPending && <Loading what="events" />}
      <ErrorMessage error={events.error} />
      {events.data && (
        <>
          {events.data.data.length === 0 ? (
            <Text c="dimmed">No events match.</Text>
          ) : (
            <Table.ScrollContainer minWidth={700}>
              <Table striped highlightOnHover>
                <Table.Thead>
                  <Table.Tr>
                    <Table.Th>Time</Table.Th>
                    <Table.Th>Type</Table.Th>
                    <Table.Th>Subject</Table.Th>
                    <Table.Th>Source</Table.Th>
                    <Table.Th>ID</Table.Th>
                  </Table.Tr>
                </Table.Thead>
                <Table.Tbody>
                  {events.data.data.map((ev) => (
                    <Table.Tr key={`${ev.event.source}/${ev.event.id}`}>
                      <Table.Td>{when(ev.event.time)}</Table.Td>
                      <Table.Td>{ev.event.type}</Table.Td>
                      <Table.Td>{ev.event.subject}</Table.Td>
                      <Table.Td>{ev.event.source}</Table.Td>
                      <Table.Td>
                        <UnstyledButton onClick={() => setOpen(ev)} aria-label={`Event ${ev.event.id}`}>
                          <Code>{ev.event.id}</Code>
                        </UnstyledButton>
                        {ev.validation_errors?.length ? (
                          <Badge color="orange" ml="xs">
                            {ev.validation_errors.length} error(s)
                          </Badge>
                        ) : null}
                      </Table.Td>
                    </Table.Tr>
                  ))}
                </Table.Tbody>
              </Table>
            </Table.ScrollContainer>
          )}
          <Group justify="flex-end" gap="xs">
            <Button
              variant="default"
              size="xs"
              disabled={cursors.length === 0}
              onClick={() => setCursors((c) => c.slice(0, -1))}
            >
              Newer
            </Button>
            <Button
              variant="default"
              size="xs"
              disabled={!events.data.meta.page.next}
              onClick={() => setCursors((c) => [...c, events.data.meta.page.next!])}
            >
              Older
            </Button>
          </Group>
        </>
      )}
      <Modal opened={open !== null} onClose={() => setOpen(null)} title="Event" size="lg">
        {open && (
          <Stack gap="xs">
            <Text size="sm">
              Ingested {when(open.ingested_at)}
              {open.customer ? ` · customer ${open.customer.id}` : ' · no customer'}
            </Text>
            {open.validation_errors?.map((v, i) => (
              <Text key={i} size="sm" c="orange">
                {v.code}: {v.message}
              </Text>
            ))}
            <Code block>{JSON.stringify(open.event, null, 2)}</Code>
          </Stack>
        )}
      </Modal>
    </Stack>
  );
}
