export { main } from './main.js';
export { buildTracker, type Tracker, type TrackerDeps, type AnnounceRequest, type AnnounceVerdict } from './app.js';
export { InfoHashAdmission, type InfoHashLookup, type AdmissionOptions } from './domain/admission.js';
export { TrackerConfig } from './config.js';
