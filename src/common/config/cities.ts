// Coordinates of common PoP cities, by IATA-style code and by city name, so that an operator can
// register a PoP with `"city": "Frankfurt"` (or "fra") and GeoDNS still knows where it is. The table
// is deliberately small: for any other city, give latitude and longitude.

export interface CityLocation {
  city: string;
  latitude: number;
  longitude: number;
}

export const CITIES: Readonly<Record<string, CityLocation>> = Object.freeze({
  nyc: { city: 'New York', latitude: 40.71, longitude: -74.01 },
  iad: { city: 'Ashburn', latitude: 39.04, longitude: -77.49 },
  ord: { city: 'Chicago', latitude: 41.88, longitude: -87.63 },
  dfw: { city: 'Dallas', latitude: 32.78, longitude: -96.8 },
  atl: { city: 'Atlanta', latitude: 33.75, longitude: -84.39 },
  mia: { city: 'Miami', latitude: 25.76, longitude: -80.19 },
  lax: { city: 'Los Angeles', latitude: 34.05, longitude: -118.24 },
  sfo: { city: 'San Francisco', latitude: 37.77, longitude: -122.42 },
  sea: { city: 'Seattle', latitude: 47.61, longitude: -122.33 },
  yyz: { city: 'Toronto', latitude: 43.65, longitude: -79.38 },
  gru: { city: 'São Paulo', latitude: -23.55, longitude: -46.63 },
  lon: { city: 'London', latitude: 51.51, longitude: -0.13 },
  ams: { city: 'Amsterdam', latitude: 52.37, longitude: 4.9 },
  fra: { city: 'Frankfurt', latitude: 50.11, longitude: 8.68 },
  par: { city: 'Paris', latitude: 48.86, longitude: 2.35 },
  mad: { city: 'Madrid', latitude: 40.42, longitude: -3.7 },
  mil: { city: 'Milan', latitude: 45.46, longitude: 9.19 },
  sto: { city: 'Stockholm', latitude: 59.33, longitude: 18.07 },
  waw: { city: 'Warsaw', latitude: 52.23, longitude: 21.01 },
  jnb: { city: 'Johannesburg', latitude: -26.2, longitude: 28.05 },
  dxb: { city: 'Dubai', latitude: 25.2, longitude: 55.27 },
  bom: { city: 'Mumbai', latitude: 19.08, longitude: 72.88 },
  sin: { city: 'Singapore', latitude: 1.35, longitude: 103.82 },
  hkg: { city: 'Hong Kong', latitude: 22.32, longitude: 114.17 },
  tyo: { city: 'Tokyo', latitude: 35.68, longitude: 139.69 },
  icn: { city: 'Seoul', latitude: 37.57, longitude: 126.98 },
  syd: { city: 'Sydney', latitude: -33.87, longitude: 151.21 },
});

/** A known city by code ("fra") or name ("Frankfurt"), case-insensitive; undefined otherwise. */
export function knownCity(nameOrCode: string): CityLocation | undefined {
  const key = nameOrCode.trim().toLowerCase();
  return CITIES[key] ?? Object.values(CITIES).find((c) => c.city.toLowerCase() === key);
}
