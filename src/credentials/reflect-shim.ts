/**
 * @peculiar/x509 resolves its algorithm providers through tsyringe, which needs the Reflect
 * metadata API. Import this before '@peculiar/x509' (ES modules evaluate imports in order).
 */
import 'reflect-metadata';
