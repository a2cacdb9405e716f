/**
 * A PDF's text, extracted with pdf-parse. pdf.js loads its worker with a dynamic `import()`, which jest's
 * module sandbox refuses (it would need --experimental-vm-modules), so the extraction runs in a plain
 * Node process: the PDF goes in on stdin, the text comes back as JSON.
 */
import { execFile } from 'node:child_process';
import path from 'node:path';

const ROOT = path.resolve(__dirname, '..', '..');

const SCRIPT = `
const { PDFParse } = require('pdf-parse');
const chunks = [];
process.stdin.on('data', (c) => chunks.push(c));
process.stdin.on('end', async () => {
  try {
    const r = await new PDFParse({ data: Buffer.concat(chunks) }).getText();
    process.stdout.write(JSON.stringify({ text: r.text, total: r.total }));
  } catch (e) {
    process.stderr.write(String(e && e.stack || e));
    process.exit(1);
  }
});`;

export interface PdfText {
  text: string;
  /** pages */
  total: number;
}

export function pdfText(pdf: Buffer): Promise<PdfText> {
  return new Promise((resolve, reject) => {
    const child = execFile(
      process.execPath,
      ['-e', SCRIPT],
      { cwd: ROOT, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 },
      (err, stdout, stderr) => {
        if (err) reject(new Error(`pdf-parse failed: ${stderr || err.message}`));
        else resolve(JSON.parse(stdout) as PdfText);
      },
    );
    child.stdin!.end(pdf);
  });
}
