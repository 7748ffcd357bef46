/**
 * `modelport uninstall --backend kubernetes --namespace X [--kubeconfig F] [--context C]`: deletes everything
 * labelled `app.kubernetes.io/managed-by=modelport` in the namespace (InferenceServices, Knative Services, Secrets,
 * ServiceAccounts), straight through the Kubernetes API; the server is not involved. The SDK loads only here.
 */
import { defineCommand, UsageError } from '../command.ts';

export const uninstallCommand = defineCommand({
  words: ['uninstall'],
  usage: 'uninstall --backend kubernetes --namespace X [--kubeconfig FILE] [--context NAME]',
  summary: "Delete everything Modelport created in a Kubernetes namespace (objects with Modelport's labels)",
  args: [0, 0],
  options: {
    backend: { type: 'string', description: 'kubernetes (the only backend with objects outside this machine)' },
    namespace: { type: 'string', description: 'The namespace to clean (required)' },
    kubeconfig: {
      type: 'string',
      description: 'MODELPORT_KUBECONFIG (default KUBECONFIG, ~/.kube/config or in-cluster)',
    },
    context: { type: 'string', description: 'MODELPORT_KUBE_CONTEXT (default the current context)' },
  },
  async run({ options, io, format, env }) {
    if (options['backend'] !== 'kubernetes') {
      throw new UsageError(
        `--backend takes kubernetes, not '${String(options['backend'] ?? '')}' (compose bundles are folders: delete them)`,
      );
    }
    const namespace = options['namespace'];
    if (!namespace) throw new UsageError('--namespace is required: the namespace to clean');
    const { openKubeApi } = await import('../../backends/kubernetes/kube-api.ts');
    const { uninstall } = await import('../../backends/kubernetes/kubernetes-backend.ts');
    const api = await openKubeApi({
      kubeconfig: options['kubeconfig'] ?? (env['MODELPORT_KUBECONFIG'] || undefined),
      context: options['context'] ?? (env['MODELPORT_KUBE_CONTEXT'] || undefined),
    });
    const deleted = await uninstall(api, namespace);
    if (format === 'json') io.out(`${JSON.stringify({ namespace, deleted }, null, 2)}\n`);
    else io.out(`deleted ${deleted.length} object(s) in ${namespace}${deleted.map((d) => `\n  ${d}`).join('')}\n`);
    return 0;
  },
});
