// Placeholder: replaced by the harness that starts a real PostgreSQL for the whole run.
export default async function setup() {}
