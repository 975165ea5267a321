export declare const DASHBOARD_INDEX: string;
export declare function buildDashboard(stdio?: 'inherit' | 'pipe'): void;
