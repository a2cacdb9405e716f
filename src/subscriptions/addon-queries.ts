/** A leaf (no import of the services): what a plan change or migration asks about a subscription's add-ons. */
import type { EntityManager } from '@mikro-orm/postgresql';
import { exec, Sql } from '../db/sql';

/** How many of the subscription's add-ons have a quantity above 0 in their latest timeline row. */
export async function liveAddonCount(em: EntityManager, subscriptionId: string): Promise<number> {
  const [{ n }] = await exec<{ n: number }>(
    em,
    new Sql().add(
      `select count(*)::int as n from subscription_addons sa
        where sa.subscription_id = ?
          and (select q.quantity from subscription_addon_quantities q
                where q.subscription_addon_id = sa.id order by q.active_from desc limit 1) > 0`,
      subscriptionId,
    ),
  );
  return n;
}
