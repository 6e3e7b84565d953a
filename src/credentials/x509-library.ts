/**
 * @peculiar/x509, loaded on first use: its module graph (ASN.1 schemas, tsyringe) takes longer to
 * load than the rest of a server start, and a server issues X.509 material only when asked to.
 * It resolves its algorithm providers through tsyringe, which needs the Reflect metadata API
 * loaded before it.
 */
export type X509Library = typeof import('@peculiar/x509');

let library: Promise<X509Library> | undefined;

export function x509Library(): Promise<X509Library> {
  library ??= import('reflect-metadata').then(() => import('@peculiar/x509'));
  return library;
}
