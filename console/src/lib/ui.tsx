import {
  Alert,
  Button,
  Center,
  Group,
  Loader,
  PasswordInput,
  Table,
  Text,
  type PasswordInputProps,
} from '@mantine/core';
import { useMutation, useQuery } from '@tanstack/react-query';
import { useState, type ReactNode } from 'react';
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

/**
 * A form's submission: the mutation, with the API's errors taken by `useFormErrors` (cleared when it is
 * sent again). `errors.field(name)` goes next to a field, `errors.other` is shown as a message.
 */
export function useApiForm<TData, TVars = void>(
  fields: string[],
  options: {
    mutationFn: (vars: TVars) => Promise<TData>;
    onSuccess?: (data: TData, vars: TVars) => unknown;
  },
) {
  const errors = useFormErrors(fields);
  const mutation = useMutation<TData, unknown, TVars>({
    mutationFn: options.mutationFn,
    onMutate: () => errors.clear(),
    onError: errors.take,
    onSuccess: options.onSuccess,
  });
  return { ...mutation, errors };
}

/** An error that belongs to a group of fields (a list of rows, an object), under the group. */
export function GroupError({ error }: { error: string | undefined }) {
  if (!error) return null;
  return (
    <Text size="xs" c="red" role="alert">
      {error}
    </Text>
  );
}

/** A form's footer: the problems that belong to no field, then Cancel and the submit button. */
export function FormFooter({
  error,
  onCancel,
  submit,
  busy,
  disabled,
  cancel = 'Cancel',
}: {
  error: unknown;
  onCancel: () => void;
  submit: string;
  busy: boolean;
  disabled?: boolean;
  cancel?: string;
}) {
  return (
    <>
      <ErrorMessage error={error} />
      <Group justify="flex-end">
        <Button variant="default" onClick={onCancel}>
          {cancel}
        </Button>
        <Button type="submit" loading={busy} disabled={disabled}>
          {submit}
        </Button>
      </Group>
    </>
  );
}

/** the total of a list answer's `meta.page` (0 when the answer has none) */
function totalOf(meta: unknown): number {
  const page = (meta as { page?: { total?: unknown } } | undefined)?.page;
  return typeof page?.total === 'number' ? page.total : 0;
}

export interface Column<T> {
  header: ReactNode;
  cell: (row: T) => ReactNode;
}

/**
 * A list endpoint as a table, a page at a time: its loading state, its error, the rows, an empty text and
 * the pager. The query key is `[...queryKey, page]`, so invalidating `queryKey` refreshes every page.
 */
export function PagedTable<T>({
  queryKey,
  fetchPage,
  columns,
  rowKey,
  what,
  empty,
  label,
  size = 20,
  minWidth = 600,
  highlightOnHover,
  refetchInterval,
}: {
  queryKey: readonly unknown[];
  fetchPage: (page: { number: number; size: number }) => Promise<{ data: T[]; meta?: unknown }>;
  columns: Column<T>[];
  rowKey: (row: T) => string;
  /** what is loading, e.g. "customers" */
  what: string;
  empty: ReactNode;
  /** the table's accessible name */
  label?: string;
  size?: number;
  minWidth?: number;
  highlightOnHover?: boolean;
  refetchInterval?: number;
}) {
  const [page, setPage] = useState(1);
  const list = useQuery({
    queryKey: [...queryKey, page],
    queryFn: () => fetchPage({ number: page, size }),
    ...(refetchInterval ? { refetchInterval } : {}),
  });
  if (list.isPending) return <Loading what={what} />;
  if (list.error) return <ErrorMessage error={list.error} />;
  return (
    <>
      {list.data.data.length === 0 ? (
        <Text c="dimmed" size="sm">
          {empty}
        </Text>
      ) : (
        <Table.ScrollContainer minWidth={minWidth}>
          <Table striped highlightOnHover={highlightOnHover} aria-label={label}>
            <Table.Thead>
              <Table.Tr>
                {columns.map((c, i) => (
                  <Table.Th key={i}>{c.header}</Table.Th>
                ))}
              </Table.Tr>
            </Table.Thead>
            <Table.Tbody>
              {list.data.data.map((row) => (
                <Table.Tr key={rowKey(row)}>
                  {columns.map((c, i) => (
                    <Table.Td key={i}>{c.cell(row)}</Table.Td>
                  ))}
                </Table.Tr>
              ))}
            </Table.Tbody>
          </Table>
        </Table.ScrollContainer>
      )}
      <Pager page={page} size={size} total={totalOf(list.data.meta)} onPage={setPage} />
    </>
  );
}

/**
 * A write-only secret's field: a password input (never filled from the API, no autocomplete) that tells
 * screen readers when it is invalid (Mantine's PasswordInput leaves out `aria-invalid`).
 */
export function SecretInput(props: PasswordInputProps) {
  return <PasswordInput autoComplete="off" aria-invalid={props.error ? true : undefined} {...props} />;
}
