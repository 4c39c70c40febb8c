using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Proofsheet.Email;

public static class EmailExtensions
{
    /// <summary>Notifications by email: the outbox, who hears of what, and the SMTP sender. Needs <c>AddData()</c>.</summary>
    public static WebApplicationBuilder AddEmail(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<EmailOptions>(EmailOptions.Section)
            .Validate(o => !o.Enabled || MimeKit.MailboxAddress.TryParse(o.From, out _), "Email:From must be an address such as 'Proofsheet <proofsheet@example.com>'.")
            .Validate(o => o.Smtp.Security.ToLowerInvariant() is "auto" or "none" or "tls" or "starttls", "Email:Smtp:Security must be auto, starttls, tls or none.")
            .Validate(o => o.Smtp.Port is > 0 and < 65536 && o.Smtp.Timeout > TimeSpan.Zero && o.PollInterval > TimeSpan.Zero
                           && o.RetryBaseDelay > TimeSpan.Zero && o.RetryMaxDelay >= o.RetryBaseDelay,
                "Email:Smtp:Port must be 1-65535; Email:Smtp:Timeout, :PollInterval and :RetryBaseDelay positive; :RetryMaxDelay at least :RetryBaseDelay.");
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<EmailSignal>();
        builder.Services.AddSingleton<Notifier>();
        builder.Services.AddHostedService<EmailSender>();
        return builder;
    }
}
