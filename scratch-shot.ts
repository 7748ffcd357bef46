import { chromium } from 'playwright-core';
const [file, prefix, width] = process.argv.slice(2);
const browser = await chromium.launch({ executablePath: '/usr/bin/chromium', args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking'] });
const page = await browser.newPage({ viewport: { width: Number(width ?? 1280), height: 1100 } });
await page.goto(file!.startsWith('http') ? file! : `file://${file}`);
const h = await page.evaluate(() => document.body.scrollHeight);
for (let y = 0, i = 0; y < h && i < 6; y += 1100, i++) {
  await page.screenshot({ path: `${prefix}${i}.png`, clip: { x: 0, y, width: Number(width ?? 1280), height: Math.min(1100, h - y) }, fullPage: true });
}
console.log('height', h);
await browser.close();
