import { Button, Card, Group, Stack, Tabs, Text, TextInput, Title } from '@mantine/core';
import { useState } from 'react';
import { useNavigate, useParams } from 'react-router-dom';
import { temporalUiUrl } from '../lib/format';
import { AppsSettings } from './Apps';
import { NotificationsSettings } from './Notifications';
import { BillingProfilesCard } from './Profiles';

/** Settings: General (the Temporal UI address, billing profiles), Apps, Notifications */
export function SettingsPage() {
  const params = useParams();
  // /settings/notifications/:section shows the Notifications tab
  const tab = params.section ? 'notifications' : (params.tab ?? 'general');
  const navigate = useNavigate();
  return (
    <Stack>
      <Title order={2}>Settings</Title>
      <Tabs
        value={tab}
        onChange={(t) => void navigate(t && t !== 'general' ? `/settings/${t}` : '/settings')}
        keepMounted={false}
      >
        <Tabs.List>
          <Tabs.Tab value="general">General</Tabs.Tab>
          <Tabs.Tab value="apps">Apps</Tabs.Tab>
          <Tabs.Tab value="notifications">Notifications</Tabs.Tab>
        </Tabs.List>
        <Tabs.Panel value="general" pt="md">
          <GeneralSettings />
        </Tabs.Panel>
        <Tabs.Panel value="apps" pt="md">
          <AppsSettings />
        </Tabs.Panel>
        <Tabs.Panel value="notifications" pt="md">
          <NotificationsSettings />
        </Tabs.Panel>
      </Tabs>
    </Stack>
  );
}

function GeneralSettings() {
  const [url, setUrl] = useState(temporalUiUrl());
  const [saved, setSaved] = useState(false);
  return (
    <Stack>
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
