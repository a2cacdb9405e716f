import { Button, Card, Center, PasswordInput, Stack, Text, Title } from '@mantine/core';
import { useState, type FormEvent } from 'react';
import { api, ApiError, session, unwrap } from '../api/client';
import { ErrorMessage } from '../lib/ui';

export function SignIn({ onSignedIn }: { onSignedIn: () => void }) {
  const [token, setToken] = useState('');
  const [error, setError] = useState<unknown>(null);
  const [busy, setBusy] = useState(false);
  const submit = async (e: FormEvent) => {
    e.preventDefault();
    setBusy(true);
    setError(null);
    session.signIn(token.trim());
    try {
      // any authenticated read tells whether the API accepts the token
      await unwrap(api.GET('/v3/openmeter/meters', { params: { query: { 'page[size]': 1 } } }));
      onSignedIn();
    } catch (err) {
      session.signOut();
      setError(
        err instanceof ApiError && err.status === 401 ? new Error('The API refused this token.') : err,
      );
    } finally {
      setBusy(false);
    }
  };
  return (
    <Center mih="100vh" p="md">
      <Card withBorder shadow="sm" w={420} maw="100%" p="lg">
        <form onSubmit={(e) => void submit(e)}>
          <Stack>
            <Title order={1} size="h3">
              Sign in to Tally
            </Title>
            <Text size="sm" c="dimmed">
              Use one of the API's tokens (TALLY_API_TOKENS; <code>npm start</code> prints it and keeps it in
              .data/api-token). It is kept for this browser tab only.
            </Text>
            <PasswordInput
              label="API token"
              required
              autoFocus
              value={token}
              onChange={(e) => setToken(e.currentTarget.value)}
            />
            <ErrorMessage error={error} title="Sign-in failed" />
            <Button type="submit" loading={busy} disabled={!token.trim()}>
              Sign in
            </Button>
          </Stack>
        </form>
      </Card>
    </Center>
  );
}
