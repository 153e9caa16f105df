import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { deviceClassOf } from '../../../../src/edge/zones/device-class.ts';
import type { DeviceClass } from '../../../../src/edge/zones/device-class.ts';

describe('deviceClassOf', () => {
  const rows: [name: string, ua: string | string[] | undefined, cls: DeviceClass][] = [
    ['no User-Agent', undefined, 'desktop'],
    ['empty', '', 'desktop'],
    [
      'iPhone Safari',
      'Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1',
      'mobile',
    ],
    [
      'Android phone Chrome',
      'Mozilla/5.0 (Linux; Android 14; Pixel 8) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36',
      'mobile',
    ],
    [
      'Firefox for Android phone',
      'Mozilla/5.0 (Android 14; Mobile; rv:121.0) Gecko/121.0 Firefox/121.0',
      'mobile',
    ],
    [
      'Windows Phone',
      'Mozilla/5.0 (Windows Phone 10.0; Android 6.0.1; Microsoft; Lumia 950) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/52.0 Mobile Safari/537.36 Edge/15.15063',
      'mobile',
    ],
    [
      'Windows Phone 8 IE',
      'Mozilla/5.0 (compatible; MSIE 10.0; Windows Phone 8.0; Trident/6.0; IEMobile/10.0; NOKIA; Lumia 920)',
      'mobile',
    ],
    [
      'Opera Mini',
      'Opera/9.80 (J2ME/MIDP; Opera Mini/9.80/37.9178; U; en) Presto/2.12.423 Version/12.16',
      'mobile',
    ],
    [
      'BlackBerry 10',
      'Mozilla/5.0 (BB10; Touch) AppleWebKit/537.35+ (KHTML, like Gecko) Version/10.3 Mobile Safari/537.35+',
      'mobile',
    ],
    [
      'old iPad (says "Mobile/" too)',
      'Mozilla/5.0 (iPad; CPU OS 12_2 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/12.1 Mobile/15E148 Safari/604.1',
      'tablet',
    ],
    [
      'Android tablet (no "Mobile")',
      'Mozilla/5.0 (Linux; Android 13; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      'tablet',
    ],
    [
      'Firefox for Android tablet',
      'Mozilla/5.0 (Android 14; Tablet; rv:121.0) Gecko/121.0 Firefox/121.0',
      'tablet',
    ],
    [
      'Kindle Fire Silk',
      'Mozilla/5.0 (Linux; U; Android 4.0.3; KFTT) AppleWebKit/535.19 Silk/3.4 Safari/535.19',
      'tablet',
    ],
    [
      'Windows Chrome',
      'Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Safari/537.36',
      'desktop',
    ],
    [
      'old IE with "Tablet PC"',
      'Mozilla/4.0 (compatible; MSIE 8.0; Windows NT 6.1; Tablet PC 2.0)',
      'desktop',
    ],
    [
      'macOS Safari (and iPadOS 13+ by default)',
      'Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.0 Safari/605.1.15',
      'desktop',
    ],
    ['curl', 'curl/8.5.0', 'desktop'],
    ['repeated field: the first line', ['iPhone', 'Windows'], 'mobile'],
  ];
  for (const [name, ua, cls] of rows) {
    test(`${name} → ${cls}`, () => assert.equal(deviceClassOf(ua), cls));
  }
});
