export { main } from './main.js';
export { buildSeederApp, type SeederDeps, type SeederAppConfig } from './app.js';
export { SEEDER_PEER_ID_PREFIX, isSeederPeerId } from './domain/peer-id.js';
export { pieceLengthFor, MIN_PIECE_LENGTH, MAX_PIECE_LENGTH } from './domain/piece-length.js';
export { IMAGE_NAME_PATTERN, FILE_NAME_PATTERN } from './domain/names.js';
export { SeederConfig } from './config.js';
export { infoHashOfFile } from './adapters/torrent-file.js';
