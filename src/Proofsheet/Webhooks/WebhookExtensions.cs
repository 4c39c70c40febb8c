using Microsoft.Extensions.DependencyInjection.Extensions;

namespace Proofsheet.Webhooks;

public static class WebhookExtensions
{
    /// <summary>The webhook outbox and its dispatcher. Needs <c>AddData()</c> (the database).</summary>
    public static WebApplicationBuilder AddWebhooks(this WebApplicationBuilder builder)
    {
        builder.Services.AddSection<WebhookOptions>(WebhookOptions.Section)
            .Validate(o => o.UrlList.All(u => Uri.TryCreate(u, UriKind.Absolute, out var uri) && (uri.Scheme == Uri.UriSchemeHttp || uri.Scheme == Uri.UriSchemeHttps)),
                "Webhooks:Urls must be a comma-separated list of absolute http(s) URLs.")
            .Validate(o => o.EventList.All(WebhookOutbox.AllEvents.Contains),
                $"Webhooks:Events must be a comma-separated list of: {string.Join(", ", WebhookOutbox.AllEvents)} (empty: all).")
            .Validate(o => o.UrlList.Count == 0 || !string.IsNullOrEmpty(o.Secret),
                "Webhooks:Secret must be set when Webhooks:Urls is set (receivers verify the signature with it).")
            .Validate(o => o.Timeout > TimeSpan.Zero && o.PollInterval > TimeSpan.Zero && o.RetryBaseDelay > TimeSpan.Zero && o.RetryMaxDelay >= o.RetryBaseDelay,
                "Webhooks:Timeout, :PollInterval and :RetryBaseDelay must be positive and :RetryMaxDelay at least :RetryBaseDelay.");
        builder.Services.TryAddSingleton(TimeProvider.System);
        builder.Services.AddSingleton<WebhookOutbox>();
        builder.Services.AddSingleton<WebhookSignal>();
        builder.Services.AddHttpClient<WebhookSender>(http => http.Timeout = Timeout.InfiniteTimeSpan)
            // A 3xx is not an acknowledgement: the event must reach the URL that was configured.
            .ConfigurePrimaryHttpMessageHandler(() => new SocketsHttpHandler { AllowAutoRedirect = false, PooledConnectionLifetime = TimeSpan.FromMinutes(5) })
            // Held by the dispatcher for the app's lifetime: recycle connections rather than handlers.
            .SetHandlerLifetime(Timeout.InfiniteTimeSpan);
        builder.Services.AddHostedService<WebhookDispatcher>();
        builder.Services.AddSingleton<WebhookHousekeeping>();
        builder.Services.AddHostedService(sp => sp.GetRequiredService<WebhookHousekeeping>());
        return builder;
    }
}
