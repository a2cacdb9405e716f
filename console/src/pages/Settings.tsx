import { Button, Card, Group, Stack, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { temporalUiUrl } from '../lib/format';
import { BillingProfilesCard } from './Profiles';

export function SettingsPage() {
  const [url, setUrl] = useState(temporalUiUrl());
  const [saved, setSaved] = useState(false);
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
      <BillingProfilesCard />
    </Stack>
  );
}
