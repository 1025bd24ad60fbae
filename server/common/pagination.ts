import { ArgsType, ClassType, Field, Int, ObjectType } from 'type-graphql';
import { Max, Min } from 'class-validator';
import type { ObjectLiteral, SelectQueryBuilder } from 'typeorm';
import { badInput } from '../app/errors';
import { isId } from './ids';

export const MAX_PAGE = 100;

@ArgsType()
export class PageArgs {
  @Field(() => Int, { nullable: true, description: `How many to return, 1–${MAX_PAGE} (default 50).` })
  @Min(1)
  @Max(MAX_PAGE)
  first?: number;

  @Field({ nullable: true, description: 'The `endCursor` of the previous page.' })
  after?: string;
}

@ObjectType()
export class PageInfo {
  @Field(() => String, { nullable: true })
  endCursor!: string | null;

  @Field()
  hasNextPage!: boolean;
}

export interface Connection<T> {
  edges: { node: T; cursor: string }[];
  pageInfo: PageInfo;
}

/** A Relay connection type for `T`, named `<T>Connection` with `<T>Edge`. */
export function ConnectionType<T extends object>(node: ClassType<T>, name = node.name) {
  @ObjectType(`${name}Edge`)
  class Edge {
    @Field(() => node)
    node!: T;

    @Field()
    cursor!: string;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionClass implements Connection<T> {
    @Field(() => [Edge])
    edges!: Edge[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }
  return ConnectionClass;
}

const encodeCursor = (id: string) => Buffer.from(id, 'utf8').toString('base64url');
function decodeCursor(cursor: string): string {
  const id = Buffer.from(cursor, 'base64url').toString('utf8');
  if (!isId(id)) throw badInput('after is not a cursor from this list', 'after');
  return id;
}

/**
 * Keyset pagination on the primary key. IDs are UUIDv7, so id order is creation order and a
 * page is one index range scan however deep the caller pages. Joins used here are many-to-one,
 * so `limit` (not `take`) is exact and costs one statement.
 */
export async function paginate<T extends ObjectLiteral & { id: string }>(
  qb: SelectQueryBuilder<T>,
  page: PageArgs,
  order: 'ASC' | 'DESC' = 'ASC',
): Promise<Connection<T>> {
  const first = page.first ?? 50;
  const alias = qb.alias;
  if (page.after !== undefined && page.after !== null) {
    qb.andWhere(`${alias}.id ${order === 'ASC' ? '>' : '<'} :afterId`, { afterId: decodeCursor(page.after) });
  }
  const rows = await qb.orderBy(`${alias}.id`, order).limit(first + 1).getMany();
  const hasNextPage = rows.length > first;
  const nodes = rows.slice(0, first);
  const edges = nodes.map((node) => ({ node, cursor: encodeCursor(node.id) }));
  return { edges, pageInfo: { endCursor: edges.at(-1)?.cursor ?? null, hasNextPage } };
}
