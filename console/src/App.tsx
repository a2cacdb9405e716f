import { useEffect, useState } from 'react';
import { Navigate, Route, Routes } from 'react-router-dom';
import { useQueryClient } from '@tanstack/react-query';
import { session } from './api/client';
import { Layout } from './Layout';
import { SignIn } from './pages/SignIn';
import { MetersPage, MeterPage } from './pages/Meters';
import { EventsPage } from './pages/Events';
import { CatalogPage, PlanPage } from './pages/Catalog';
import { CustomersPage, CustomerPage } from './pages/Billing';
import { InvoicePage } from './pages/Invoices';
import { SettingsPage } from './pages/Settings';
import { AppPage } from './pages/Apps';
import { NotificationEventPage } from './pages/Notifications';

export function App() {
  const [token, setToken] = useState(session.token());
  const qc = useQueryClient();
  useEffect(() => {
    // a token the API refuses (revoked, expired) signs the console out
    const onUnauthorized = () => {
      session.signOut();
      qc.clear();
      setToken(null);
    };
    window.addEventListener('tally:unauthorized', onUnauthorized);
    return () => window.removeEventListener('tally:unauthorized', onUnauthorized);
  }, [qc]);

  if (!token) return <SignIn onSignedIn={() => setToken(session.token())} />;
  const signOut = () => {
    session.signOut();
    qc.clear();
    setToken(null);
  };
  return (
    <Layout onSignOut={signOut}>
      <Routes>
        <Route path="/" element={<Navigate to="/meters" replace />} />
        <Route path="/meters" element={<MetersPage />} />
        <Route path="/meters/:meterId" element={<MeterPage />} />
        <Route path="/events" element={<EventsPage />} />
        <Route path="/catalog" element={<Navigate to="/catalog/features" replace />} />
        <Route path="/catalog/:tab" element={<CatalogPage />} />
        <Route path="/catalog/plans/:planId" element={<PlanPage />} />
        <Route path="/billing" element={<CustomersPage />} />
        <Route path="/billing/customers/:customerId" element={<Navigate to="overview" replace />} />
        <Route path="/billing/customers/:customerId/:tab" element={<CustomerPage />} />
        <Route path="/billing/invoices/:invoiceId" element={<InvoicePage />} />
        <Route path="/settings" element={<SettingsPage />} />
        <Route path="/settings/apps/:appId" element={<AppPage />} />
        <Route path="/settings/notifications/:section" element={<SettingsPage />} />
        <Route path="/settings/notifications/events/:eventId" element={<NotificationEventPage />} />
        <Route path="/settings/:tab" element={<SettingsPage />} />
        <Route path="*" element={<Navigate to="/meters" replace />} />
      </Routes>
    </Layout>
  );
}
