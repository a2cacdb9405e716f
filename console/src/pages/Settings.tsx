import { Badge, Button, Card, Code, Group, Stack, Table, Text, TextInput, Title } from '@mantine/core';
import { useQuery } from '@tanstack/react-query';
import { useState } from 'react';
import { api, unwrap } from '../api/client';
import { temporalUiUrl } from '../lib/format';
import { ErrorMessage, Loading } from '../lib/ui';

export function SettingsPage() {
  const [url, setUrl] = useState(temporalUiUrl());
  const [saved, setSaved] = useState(false);
  const profiles = useQuery({
    queryKey: ['profiles'],
    queryFn: () => unwrap(api.GET('/v3/openmeter/profiles', { params: { query: { 'page[size]': 100 } } })),
  });
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      <Card withBorder>
        <form
          onSubmit={(e) => {
            e.preventDefault();
            localStorage.setItem('tally.temporalUiUrl', url.trim());
            setSaved(true);
          }}
        >
          <Stack>
            <Title order={3} size="h4">
              Temporal UI
            </Title>
            <TextInput
              label="Temporal UI address"
              description="Subscriptions and invoices link to their workflows there (kept in this browser)."
              value={url}
              onChange={(e) => {
                setUrl(e.currentTarget.value);
                setSaved(false);
              }}
            />
            <Group>
              <Button type="submit">Save</Button>
              {saved && <Text size="sm">Saved.</Text>}
            </Group>
          </Stack>
        </form>
      </Card>
      <Card withBorder>
        <Title order={3} size="h4" mb="xs">
          Billing profiles
        </Title>
        {profiles.isPending && <Loading what="billing profiles" />}
        <ErrorMessage error={profiles.error} />
        {profiles.data && (
          <Table.ScrollContainer minWidth={600}>
            <Table striped aria-label="Billing profiles">
              <Table.Thead>
                <Table.Tr>
                  <Table.Th>Name</Table.Th>
                  <Table.Th>Supplier</Table.Th>
                  <Table.Th>Collection</Table.Th>
                  <Table.Th>Invoicing</Table.Th>
                  <Table.Th>Payment</Table.Th>
                  <Table.Th>Apps</Table.Th>
                </Table.Tr>
              </Table.Thead>
              <Table.Tbody>
                {profiles.data.data.map((p) => (
                  <Table.Tr key={p.id}>
                    <Table.Td>
                      {p.name} {p.default && <Badge ml="xs">default</Badge>}
                    </Table.Td>
                    <Table.Td>{p.supplier.name ?? '—'}</Table.Td>
                    <Table.Td>{p.workflow.collection?.interval ?? '—'}</Table.Td>
                    <Table.Td>
                      {p.workflow.invoicing?.auto_advance ? 'auto-advance' : 'manual approval'}
                      {p.workflow.invoicing?.draft_period
                        ? `, draft ${p.workflow.invoicing.draft_period}`
                        : ''}
                    </Table.Td>
                    <Table.Td>{p.workflow.payment?.collection_method ?? '—'}</Table.Td>
                    <Table.Td>
                      <Code>{p.apps.invoicing.id}</Code>
                    </Table.Td>
                  </Table.Tr>
                ))}
              </Table.Tbody>
            </Table>
          </Table.ScrollContainer>
        )}
        <Text size="xs" c="dimmed" mt="xs">
          Profiles are edited through the API (PUT /v3/openmeter/profiles/&#123;id&#125;).
        </Text>
      </Card>
    </Stack>
  );
}
