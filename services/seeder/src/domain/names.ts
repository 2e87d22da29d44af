import { SwarmbootError } from '@swarmboot/contracts';

/** Image names: what the API path, the data directory and the catalog key are made of. */
export const IMAGE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$';
/** File names: a single path component, no leading dot (so it never meets the seeder's own `.`-files). */
export const FILE_NAME_PATTERN = '^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$';

const imageName = new RegExp(IMAGE_NAME_PATTERN);
const fileName = new RegExp(FILE_NAME_PATTERN);

/** Throws SwarmbootError IMAGE_NAME_INVALID unless `name` matches IMAGE_NAME_PATTERN. */
export function checkImageName(name: unknown): string {
  if (typeof name !== 'string' || !imageName.test(name)) {
    throw new SwarmbootError('IMAGE_NAME_INVALID', `image name must match ${IMAGE_NAME_PATTERN}`, { context: { name } });
  }
  return name;
}

/** Throws SwarmbootError IMAGE_FILE_INVALID unless `file` matches FILE_NAME_PATTERN. */
export function checkFileName(file: unknown): string {
  if (typeof file !== 'string' || !fileName.test(file)) {
    throw new SwarmbootError('IMAGE_FILE_INVALID', `query parameter file must be a file name matching ${FILE_NAME_PATTERN}`, { context: { file } });
  }
  return file;
}
