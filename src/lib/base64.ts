/** Standard (not URL-safe) base64, for email attachments and Daraja's password. */
export const base64 = {
  encode(bytes: Uint8Array): string {
    let binary = "";
    const chunk = 0x8000;
    for (let i = 0; i < bytes.length; i += chunk) {
      binary += String.fromCharCode(...bytes.subarray(i, i + chunk));
    }
    return btoa(binary);
  },
  encodeText(text: string): string {
    return base64.encode(new TextEncoder().encode(text));
  },
};
