'use client';

import { useRouter } from 'next/navigation';
import { useEffect, useState } from 'react';
import { graphql } from '../gql';
import type { MeQuery } from '../gql/graphql';
import { ApiError, request } from '../lib/api';

const meQuery = graphql(`
  query Me {
    me {
      id
      email
      name
      role
      account {
        id
        name
        kind
      }
    }
  }
`);

const logoutMutation = graphql(`
  mutation Logout {
    logout
  }
`);

type State =
  | { status: 'loading' }
  | { status: 'ready'; me: MeQuery['me'] }
  | { status: 'error'; message: string };

export default function HomePage() {
  const router = useRouter();
  const [state, setState] = useState<State>({ status: 'loading' });
  const [signingOut, setSigningOut] = useState(false);
  const [signOutError, setSignOutError] = useState<string | null>(null);

  useEffect(() => {
    let cancelled = false;
    request(meQuery)
      .then(({ me }) => {
        if (!cancelled) setState({ status: 'ready', me });
      })
      .catch((e: unknown) => {
        if (cancelled) return;
        if (e instanceof ApiError && e.code === 'UNAUTHENTICATED') {
          router.replace('/login');
          return;
        }
        setState({ status: 'error', message: e instanceof Error ? e.message : 'Something went wrong.' });
      });
    return () => {
      cancelled = true;
    };
  }, [router]);

  async function signOut() {
    setSigningOut(true);
    setSignOutError(null);
    try {
      await request(logoutMutation);
    } catch (e) {
      // Signed out already (say, the session expired) is as good as signing out now.
      if (!(e instanceof ApiError && e.code === 'UNAUTHENTICATED')) {
        setSignOutError(e instanceof Error ? e.message : 'Could not sign out.');
        setSigningOut(false);
        return;
      }
    }
    router.replace('/login');
  }

  if (state.status === 'loading') {
    return <p className="muted">Loading…</p>;
  }
  if (state.status === 'error') {
    return (
      <p role="alert" className="alert">
        {state.message}
      </p>
    );
  }

  const { me } = state;
  return (
    <section className="card">
      <div className="card-head">
        <h1>{me.name || me.email}</h1>
        <button type="button" className="secondary" onClick={signOut} disabled={signingOut}>
          Sign out
        </button>
      </div>
      {signOutError && (
        <p role="alert" className="alert">
          {signOutError}
        </p>
      )}
      <dl className="facts">
        <dt>Email</dt>
        <dd data-testid="me-email">{me.email}</dd>
        <dt>Role</dt>
        <dd data-testid="me-role">{me.role}</dd>
        <dt>Account</dt>
        <dd data-testid="account-name">{me.account.name}</dd>
        <dt>Account kind</dt>
        <dd data-testid="account-kind">{me.account.kind}</dd>
      </dl>
    </section>
  );
}
