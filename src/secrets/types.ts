/** Encrypts small secrets (target configs, generated passwords) for storage. */
export interface SecretBox {
  /** `context` is bound into the ciphertext (AAD): a value moved to another row will not decrypt. */
  encrypt(plaintext: string, context: string): string;
  decrypt(ciphertext: string, context: string): string;
}
