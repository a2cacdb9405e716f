import { Alert, Button, Center, Group, Loader, Text } from '@mantine/core';
import { useState } from 'react';
import { ApiError } from '../api/client';

/** A problem that belongs to no form field (or any other failure), as a message. */
export function ErrorMessage({ error, title }: { error: unknown; title?: string }) {
  if (!error) return null;
  const message =
    error instanceof Error ? error.message : typeof error === 'string' ? error : JSON.stringify(error);
  const status = error instanceof ApiError ? error.problem?.title : undefined;
  return (
    <Alert color="red" title={title ?? status ?? 'Something went wrong'} role="alert">
      {message}
    </Alert>
  );
}

export function Loading({ what }: { what: string }) {
  return (
    <Center p="lg" role="status" aria-live="polite">
      <Loader size="sm" mr="sm" />
      <Text size="sm">Loading {what}…</Text>
    </Center>
  );
}

/** page-number paging as the API's list endpoints do it (meta.page: number, size, total) */
export function Pager({
  page,
  size,
  total,
  onPage,
}: {
  page: number;
  size: number;
  total: number;
  onPage: (p: number) => void;
}) {
  const pages = Math.max(1, Math.ceil(total / size));
  if (pages <= 1) return null;
  return (
    <Group justify="flex-end" mt="sm" gap="xs" aria-label="Pages">
      <Button variant="default" size="xs" disabled={page <= 1} onClick={() => onPage(page - 1)}>
        Previous
      </Button>
      <Text size="sm">
        Page {page} of {pages} ({total})
      </Text>
      <Button variant="default" size="xs" disabled={page >= pages} onClick={() => onPage(page + 1)}>
        Next
      </Button>
    </Group>
  );
}

/**
 * The errors of a form: `invalid_parameters` by field (shown next to the fields), the rest as a message.
 * `fields` lists the form's field paths; an API field that is under one of them goes to it.
 */
export function useFormErrors(fields: string[]) {
  const [byField, setByField] = useState<Record<string, string>>({});
  const [other, setOther] = useState<unknown>(null);
  return {
    field: (name: string): string | undefined => byField[name],
    other,
    clear: () => {
      setByField({});
      setOther(null);
    },
    take: (e: unknown) => {
      if (e instanceof ApiError) {
        const found: Record<string, string> = {};
        const rest: string[] = [];
        for (const [f, reason] of Object.entries(e.fieldErrors())) {
          const target = fields
            .filter((k) => f === k || f.startsWith(`${k}.`) || f.startsWith(`${k}[`))
            .sort((a, b) => b.length - a.length)[0];
          if (target) found[target] = found[target] ? `${found[target]}; ${reason}` : reason;
          else rest.push(`${f}: ${reason}`);
        }
        setByField(found);
        if (Object.keys(found).length === 0 || rest.length > 0) {
          setOther(rest.length ? new Error(`${e.message} (${rest.join('; ')})`) : e);
        } else setOther(null);
      } else setOther(e);
    },
  };
}
