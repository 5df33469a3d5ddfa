// The signed-in key lives in sessionStorage: gone when the tab closes, never
// in localStorage or a cookie.
const KEY = 'lookout.apiKey';

export const loadKey = (): string | null => sessionStorage.getItem(KEY);
export const saveKey = (key: string): void => sessionStorage.setItem(KEY, key);
export const forgetKey = (): void => sessionStorage.removeItem(KEY);
