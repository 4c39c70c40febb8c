using MailKit.Net.Smtp;
using MailKit.Security;
using Microsoft.EntityFrameworkCore;
using Microsoft.Extensions.Options;
using MimeKit;
using Proofsheet.Data;

namespace Proofsheet.Email;

/// <summary>
/// Sends due outbox messages through SMTP, with exponential backoff between attempts, and gives a
/// message up (logged, kept with its error) after <see cref="EmailOptions.MaxAttempts"/>. Rows are
/// claimed with a conditional update, so several nodes never send one twice at once. Nothing in
/// the workflow waits for this: a failing mail server delays mail, never a task.
/// </summary>
public sealed class EmailSender(
    IDbContextFactory<AppDbContext> dbs, EmailSignal signal, IOptionsMonitor<EmailOptions> options, TimeProvider time, ILogger<EmailSender> logger)
    : BackgroundService
{
    protected override async Task ExecuteAsync(CancellationToken stoppingToken)
    {
        while (!stoppingToken.IsCancellationRequested)
        {
            var wait = options.CurrentValue.PollInterval;
            try
            {
                if (options.CurrentValue.Enabled && await SendDueAsync(stoppingToken) is { } due)
                {
                    var untilDue = due - time.GetUtcNow().UtcDateTime;
                    wait = untilDue < wait ? (untilDue > TimeSpan.Zero ? untilDue : TimeSpan.Zero) : wait;
                }
            }
            catch (OperationCanceledException) when (stoppingToken.IsCancellationRequested)
            {
                return;
            }
            catch (Exception ex)
            {
                // The database may be briefly away; the rows are still there on the next pass.
                logger.LogError(ex, "Email pass failed; retrying in {Delay}", wait);
            }
            await signal.WaitAsync(wait, stoppingToken);
        }
    }

    /// <summary>Sends everything due now; returns when the next not-yet-due attempt is, if any.</summary>
    internal async Task<DateTime?> SendDueAsync(CancellationToken ct)
    {
        while (true)
        {
            var now = time.GetUtcNow().UtcDateTime;
            List<EmailMessage> due;
            await using (var db = await dbs.CreateDbContextAsync(ct))
            {
                due = await db.EmailOutbox.AsNoTracking().Where(m => m.NextAttemptAt != null && m.NextAttemptAt <= now)
                    .OrderBy(m => m.NextAttemptAt).Take(20).ToListAsync(ct);
                if (due.Count == 0)
                {
                    return await db.EmailOutbox.AsNoTracking().Where(m => m.NextAttemptAt != null)
                        .OrderBy(m => m.NextAttemptAt).Select(m => m.NextAttemptAt).FirstOrDefaultAsync(ct);
                }
            }
            foreach (var message in due)
            {
                await SendOneAsync(message, ct);
            }
        }
    }

    private async Task SendOneAsync(EmailMessage message, CancellationToken ct)
    {
        var o = options.CurrentValue;
        var now = time.GetUtcNow().UtcDateTime;
        // The lease: while it runs no other node picks the row; if this process dies, it is due again after.
        var leaseUntil = now + o.Smtp.Timeout + TimeSpan.FromMinutes(1);
        await using (var db = await dbs.CreateDbContextAsync(ct))
        {
            if (await db.EmailOutbox.Where(m => m.Id == message.Id && m.SentAt == null && m.NextAttemptAt != null && m.NextAttemptAt <= now)
                    .ExecuteUpdateAsync(s => s.SetProperty(m => m.NextAttemptAt, leaseUntil), ct) == 0)
            {
                return;
            }
        }
        string? error = null;
        try
        {
            await DeliverAsync(message, o, ct);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception ex) when (ex is IOException or System.Net.Sockets.SocketException or MailKit.ProtocolException
                                       or MailKit.CommandException or AuthenticationException or TimeoutException or OperationCanceledException
                                       or SslHandshakeException or InvalidOperationException)
        {
            error = ex.Message.Length > 500 ? ex.Message[..500] : ex.Message;
        }
        var attempts = message.Attempts + 1;
        var finished = time.GetUtcNow().UtcDateTime;
        await using (var db = await dbs.CreateDbContextAsync(CancellationToken.None))
        {
            var row = db.EmailOutbox.Where(m => m.Id == message.Id);
            if (error is null)
            {
                await row.ExecuteUpdateAsync(s => s.SetProperty(m => m.Attempts, attempts).SetProperty(m => m.SentAt, finished)
                    .SetProperty(m => m.NextAttemptAt, (DateTime?)null).SetProperty(m => m.LastError, (string?)null), CancellationToken.None);
                logger.LogInformation("Email {MessageId} ({Kind}) sent on attempt {Attempt}", message.Id, message.Kind, attempts);
                return;
            }
            DateTime? next = attempts >= o.MaxAttempts ? null : finished + Backoff(attempts, o);
            await row.ExecuteUpdateAsync(s => s.SetProperty(m => m.Attempts, attempts).SetProperty(m => m.LastError, error)
                .SetProperty(m => m.NextAttemptAt, next), CancellationToken.None);
            if (next is null)
            {
                logger.LogError("Email {MessageId} ({Kind}) given up after {Attempts} attempts: {Error}", message.Id, message.Kind, attempts, error);
            }
            else
            {
                logger.LogWarning("Email {MessageId} ({Kind}) failed (attempt {Attempt}): {Error}; next attempt at {NextAttemptAt}", message.Id, message.Kind, attempts, error, next);
            }
        }
    }

    private static async Task DeliverAsync(EmailMessage message, EmailOptions o, CancellationToken ct)
    {
        var mime = new MimeMessage();
        mime.From.Add(MailboxAddress.Parse(o.From));
        mime.To.Add(MailboxAddress.Parse(message.To));
        mime.Subject = message.Subject;
        mime.MessageId = MimeKit.Utils.MimeUtils.GenerateMessageId();
        // Plain text only: nothing a reader's mail program could run, and the link is a plain URL.
        mime.Body = new TextPart(MimeKit.Text.TextFormat.Plain) { Text = message.Body };
        using var timeout = CancellationTokenSource.CreateLinkedTokenSource(ct);
        timeout.CancelAfter(o.Smtp.Timeout);
        using var client = new SmtpClient { Timeout = (int)o.Smtp.Timeout.TotalMilliseconds };
        var security = o.Smtp.Security.ToLowerInvariant() switch
        {
            "none" => SecureSocketOptions.None,
            "tls" => SecureSocketOptions.SslOnConnect,
            "starttls" => SecureSocketOptions.StartTls,
            _ => SecureSocketOptions.StartTlsWhenAvailable,
        };
        await client.ConnectAsync(o.Smtp.Host!, o.Smtp.Port, security, timeout.Token);
        if (!string.IsNullOrEmpty(o.Smtp.Username))
        {
            await client.AuthenticateAsync(o.Smtp.Username, o.Smtp.Password ?? "", timeout.Token);
        }
        await client.SendAsync(mime, timeout.Token);
        await client.DisconnectAsync(quit: true, timeout.Token);
    }

    /// <summary>Base × 2^(attempt−1), capped.</summary>
    internal static TimeSpan Backoff(int attempt, EmailOptions o) =>
        TimeSpan.FromMilliseconds(Math.Min(o.RetryBaseDelay.TotalMilliseconds * Math.Pow(2, Math.Min(attempt - 1, 30)), o.RetryMaxDelay.TotalMilliseconds));
}
