// Device class from User-Agent, for cache keys that vary by device (cache_key.device_class). Three
// classes only, so the key splits an object at most three ways. The rules, first match wins:
//
// 1. tablet:  iPad, "Tablet" (but not the "Tablet PC" token of old desktop Windows), PlayBook,
//             Kindle / Silk (Fire tablets), or Android without "Mobi" (Google's convention: Android
//             phones say "Mobile", Android tablets do not).
// 2. mobile:  "Mobi" anywhere (MDN's advice: covers "Mobile" and "Mobile Safari"), iPhone, iPod,
//             Windows Phone, BlackBerry / BB10, Opera Mini.
// 3. desktop: everything else, a missing User-Agent included.
//
// Known blind spot: iPadOS 13+ Safari sends a macOS User-Agent by default, so those iPads are desktop.
// Tablets are tested first because old iPad User-Agents also contain "Mobile/…".

export type DeviceClass = 'mobile' | 'tablet' | 'desktop';

const TABLET = /iPad|Tablet(?! PC)|PlayBook|Kindle|Silk\/|Android(?!.*Mobi)/i;
const MOBILE = /Mobi|iPhone|iPod|Windows Phone|BlackBerry|BB10|Opera Mini/i;

/** The device class of a User-Agent value (an array is broken input: its first line is used). */
export function deviceClassOf(userAgent: string | readonly string[] | undefined): DeviceClass {
  const ua = typeof userAgent === 'string' ? userAgent : userAgent?.[0];
  if (ua === undefined || ua === '') return 'desktop';
  if (TABLET.test(ua)) return 'tablet';
  if (MOBILE.test(ua)) return 'mobile';
  return 'desktop';
}
