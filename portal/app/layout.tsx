import type { Metadata } from 'next';
import type { ReactNode } from 'react';
import './globals.css';

export const metadata: Metadata = {
  title: 'Corral',
  description: 'A control plane for LXD system containers',
};

export default function RootLayout({ children }: { children: ReactNode }) {
  return (
    <html lang="en">
      <body>
        <header className="topbar">
          <span className="brand">Corral</span>
        </header>
        <main className="main">{children}</main>
      </body>
    </html>
  );
}
