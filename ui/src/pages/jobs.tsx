/** Batch jobs: their API is not served yet, so this page says so and points at the CLI. */
import { Empty } from '../components.tsx';

export function JobsPage() {
  return (
    <section>
      <h1>Batch jobs</h1>
      <Empty title="Batch jobs arrive with the jobs API.">
        Until then, score a file from the command line:{' '}
        <code>modelport score fraud@champion transactions.csv -o scored.csv</code>. Jobs started through the API will
        show here with their progress, a cancel button and a download link.
      </Empty>
    </section>
  );
}
