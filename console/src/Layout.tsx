import { AppShell, Burger, Button, Group, NavLink, Text, Title } from '@mantine/core';
import { useDisclosure } from '@mantine/hooks';
import type { ReactNode } from 'react';
import { Link, useLocation } from 'react-router-dom';

const SECTIONS = [
  { to: '/meters', label: 'Meters' },
  { to: '/events', label: 'Events' },
  { to: '/catalog', label: 'Product Catalog' },
  { to: '/billing', label: 'Billing' },
  { to: '/settings', label: 'Settings' },
];

export function Layout({ children, onSignOut }: { children: ReactNode; onSignOut: () => void }) {
  const [opened, { toggle, close }] = useDisclosure();
  const { pathname } = useLocation();
  return (
    <AppShell
      header={{ height: 56 }}
      navbar={{ width: 230, breakpoint: 'sm', collapsed: { mobile: !opened } }}
      padding="md"
    >
      <AppShell.Header>
        <Group h="100%" px="md" justify="space-between">
          <Group gap="sm">
            <Burger
              opened={opened}
              onClick={toggle}
              hiddenFrom="sm"
              size="sm"
              aria-label="Toggle navigation"
            />
            <Title order={1} size="h4">
              Tally
            </Title>
            <Text size="sm" c="dimmed" visibleFrom="xs">
              usage metering and billing
            </Text>
          </Group>
          <Button variant="subtle" onClick={onSignOut}>
            Sign out
          </Button>
        </Group>
      </AppShell.Header>
      <AppShell.Navbar p="xs" aria-label="Metering & Billing">
        <NavLink
          component={Link}
          to="/meters"
          label="Metering & Billing"
          fw={600}
          onClick={close}
          aria-label="Metering & Billing"
        />
        {SECTIONS.map((s) => (
          <NavLink
            key={s.to}
            component={Link}
            to={s.to}
            label={s.label}
            pl="lg"
            active={pathname === s.to || pathname.startsWith(`${s.to}/`)}
            onClick={close}
          />
        ))}
      </AppShell.Navbar>
      <AppShell.Main>{children}</AppShell.Main>
    </AppShell>
  );
}
