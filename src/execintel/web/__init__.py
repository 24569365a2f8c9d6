"""The web app: magic-link sign-in, the report API, the SES feedback webhook and the dashboard."""
