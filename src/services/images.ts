/**
 * Image uploads (posters, logos, banners): recognised by their bytes, never by the name or
 * the declared type, stored in R2 under a random key with their real content type.
 */
import { DomainError } from "../lib/errors";

export const MAX_IMAGE_BYTES = 5 * 1024 * 1024;

export type ImageType = "image/jpeg" | "image/png" | "image/webp";
const EXTENSIONS: Record<ImageType, string> = {
  "image/jpeg": "jpg",
  "image/png": "png",
  "image/webp": "webp",
};

/** The real type of an image from its magic bytes, or null. */
export function sniffImageType(bytes: Uint8Array): ImageType | null {
  if (bytes.length >= 3 && bytes[0] === 0xff && bytes[1] === 0xd8 && bytes[2] === 0xff) return "image/jpeg";
  if (
    bytes.length >= 8 &&
    bytes[0] === 0x89 &&
    bytes[1] === 0x50 &&
    bytes[2] === 0x4e &&
    bytes[3] === 0x47 &&
    bytes[4] === 0x0d &&
    bytes[5] === 0x0a &&
    bytes[6] === 0x1a &&
    bytes[7] === 0x0a
  ) {
    return "image/png";
  }
  const ascii = (from: number, to: number) => String.fromCharCode(...bytes.subarray(from, to));
  if (bytes.length >= 12 && ascii(0, 4) === "RIFF" && ascii(8, 12) === "WEBP") return "image/webp";
  return null;
}

export interface ValidImage {
  bytes: Uint8Array;
  contentType: ImageType;
}

/**
 * Validate an uploaded file field. `null`/`""` mean "no image" (or "remove it" on PATCH)
 * and return null; anything that is not a JPEG/PNG/WebP file is a 400/413/415 on `field`.
 */
export async function readImageField(field: string, value: unknown): Promise<ValidImage | null> {
  if (value === undefined || value === null || value === "") return null;
  if (!(value instanceof File)) {
    throw DomainError.field(field, "The submitted data was not a file. Check the encoding type on the form.");
  }
  if (value.size === 0) throw DomainError.field(field, "The submitted file is empty.");
  if (value.size > MAX_IMAGE_BYTES) {
    throw new DomainError(
      "payload_too_large",
      `The image is too large. The limit is ${MAX_IMAGE_BYTES / 1024 / 1024} MB.`,
      {
        fields: { [field]: [`The image is too large. The limit is ${MAX_IMAGE_BYTES / 1024 / 1024} MB.`] },
      },
    );
  }
  const bytes = new Uint8Array(await value.arrayBuffer());
  const contentType = sniffImageType(bytes);
  if (!contentType) {
    throw new DomainError("unsupported_media_type", "Upload a valid image: JPEG, PNG or WebP.", {
      fields: {
        [field]: [
          "Upload a valid image. The file you uploaded was either not an image or a corrupted image.",
        ],
      },
    });
  }
  return { bytes, contentType };
}

/** Store an image under a fresh random key (`posters/…`, `logos/…`); returns the key. */
export async function storeImage(media: R2Bucket, prefix: string, image: ValidImage): Promise<string> {
  const key = `${prefix}/${crypto.randomUUID()}.${EXTENSIONS[image.contentType]}`;
  await media.put(key, image.bytes, {
    httpMetadata: { contentType: image.contentType, cacheControl: "public, max-age=31536000, immutable" },
  });
  return key;
}

/** Absolute URL of a media key (contract §1), or null. */
export function mediaUrl(publicBaseUrl: string, key: string | null | undefined): string | null {
  return key ? `${publicBaseUrl}/media/${key}` : null;
}

/** Best-effort removal of replaced or orphaned images; a leftover object is harmless. */
export async function deleteImages(media: R2Bucket, keys: Array<string | null | undefined>): Promise<void> {
  const present = keys.filter((k): k is string => typeof k === "string" && k.length > 0);
  if (present.length > 0) await media.delete(present);
}
