export * from './crc16.ts';
export * from './frame.ts';
export * from './messages.ts';
