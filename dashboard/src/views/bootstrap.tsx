// Bootstrap configurations (admin keys): looked up by endpoint, shown without keys (the api replaces them
// by keySet: true), deletable.
import { useState } from 'preact/hooks';
import { type ApiReply, call } from '../api';
import { useCan } from '../app-context';
import { Section, Spinner } from '../ui';

export function BootstrapView() {
  const can = useCan();
  const [endpoint, setEndpoint] = useState('');
  const [reply, setReply] = useState<ApiReply>();
  const [busy, setBusy] = useState(false);
  const look = async () => {
    setBusy(true);
    setReply(await call('bootstrapConfig', { params: { endpoint } }));
    setBusy(false);
  };
  return (
    <Section title="Bootstrap configurations" id="bootstrap">
      <form
        class="filters"
        onSubmit={(e) => {
          e.preventDefault();
          void look();
        }}
      >
        <label>
          Endpoint{' '}
          <input
            required
            value={endpoint}
            onInput={(e) => setEndpoint((e.target as HTMLInputElement).value)}
          />
        </label>
        <button type="submit">Show</button>
        {busy ? <Spinner label="Loading" /> : null}
      </form>
      {reply ? (
        reply.ok ? (
          <>
            <pre class="detail" data-testid="bootstrap-config">
              {JSON.stringify(reply.body, null, 2)}
            </pre>
            {can('deleteBootstrapConfig') ? (
              <button
                type="button"
                class="danger"
                onClick={() =>
                  confirm(`Delete the bootstrap configuration of ${endpoint}?`) &&
                  void call('deleteBootstrapConfig', { params: { endpoint } }).then(setReply)
                }
              >
                Delete
              </button>
            ) : null}
          </>
        ) : (
          <p class={reply.status === 404 ? 'muted' : 'error'} role="status">
            {reply.status === 404 ? `No bootstrap configuration for "${endpoint}".` : reply.problem}
          </p>
        )
      ) : null}
    </Section>
  );
}
