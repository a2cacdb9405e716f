// Workflow entry point for the worker bundle. The subscription workflow is added by the subscriptions module.
export {};
